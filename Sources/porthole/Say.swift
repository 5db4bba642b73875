import Glibc

/// Prints a line to stdout at once, also when stdout is a pipe or a file
/// (block-buffered otherwise): a reader follows `porthole buffers watch` as
/// it goes.
func say(_ line: String) {
    print(line)
    fflush(nil)
}
