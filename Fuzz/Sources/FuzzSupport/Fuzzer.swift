import Glibc
import PortholeSystem

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                                 _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                                 _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The body libFuzzer runs for each input (a C callback cannot capture it).
nonisolated(unsafe) private var body: (@MainActor (UnsafeRawBufferPointer) -> Void)?

/// Runs libFuzzer over `test` with the process's arguments (a corpus
/// directory, -max_total_time=N, files to replay, ...) and exits with its
/// status. `test` gets each input; a crash, a failed precondition or a
/// `FuzzCheck` failure is a finding. libFuzzer calls back on the thread
/// that called it, the main one, so `test` may use main.swift's globals.
@MainActor
public func runFuzzer(_ test: @escaping @MainActor (UnsafeRawBufferPointer) -> Void) -> Never {
    body = test
    // libFuzzer names each newly covered function by starting llvm-symbolizer
    // on two pipes it keeps open: descriptors the targets that count theirs
    // would take for a leak. The names are not needed.
    var arguments = CommandLine.arguments
    if !arguments.contains(where: { $0.hasPrefix("-print_funcs=") }) { arguments.insert("-print_funcs=0", at: 1) }
    let strings = arguments.map { strdup($0) } + [nil]
    var argc = Int32(arguments.count)
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = UnsafeMutablePointer.allocate(capacity: strings.count)
    argv!.initialize(from: strings, count: strings.count)
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        MainActor.assumeIsolated { body?(UnsafeRawBufferPointer(start: data, count: size)) }
        return 0
    })
}

/// A property every input must keep; its failure is a finding (libFuzzer
/// saves the input that broke it).
public func FuzzCheck(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String,
                      file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError("fuzz check failed: \(what())", file: file, line: line) }
}

/// This process's open descriptors and what each is (for a leak's report).
public func openDescriptors() -> [Int32: String] {
    var out: [Int32: String] = [:]
    for name in DirectoryListing.names("/proc/self/fd") ?? [] {
        guard let fd = Int32(name) else { continue }
        var target = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/self/fd/\(name)", &target, 255)
        out[fd] = n > 0 ? String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }
    return out
}
