// The shared region's first page as a guest or a host reads it: a header
// that reads back must write back the same.
import FuzzSupport
import Sharing

runFuzzer { data in
    let page = UnsafeMutableRawPointer.allocate(byteCount: RegionHeader.reservedBytes, alignment: 16)
    defer { page.deallocate() }
    page.initializeMemory(as: UInt8.self, repeating: 0, count: RegionHeader.reservedBytes)
    page.copyMemory(from: data.baseAddress ?? UnsafeRawPointer(page), byteCount: min(data.count, RegionHeader.reservedBytes))
    guard let header = RegionHeader.read(from: UnsafeRawPointer(page)) else { return }
    _ = header.tagHex
    let copy = UnsafeMutableRawPointer.allocate(byteCount: RegionHeader.reservedBytes, alignment: 16)
    defer { copy.deallocate() }
    copy.initializeMemory(as: UInt8.self, repeating: 0, count: RegionHeader.reservedBytes)
    header.write(to: copy)
    FuzzCheck(RegionHeader.read(from: UnsafeRawPointer(copy)) == header, "a header reads back as another")
}
