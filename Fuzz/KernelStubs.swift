// The fuzz targets build the library without its kernel modules (readers and parsers never run kernels);
// what the rest of the library names from those modules is stubbed here.
public enum Threads {
    public static var count: Int { 1 }
}
