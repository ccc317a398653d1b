// The HDF5 module: the only Swift in rnnconf that touches libhdf5 (via CHDF5).
//
// Reading
//   let file = try File(path: "fixtures/pytorch/lstm.h5")        // read-only; sniffs first
//   let root = try file.root
//   try root.childNames()               // file order: creation order when tracked, else by name
//   try root.children()                 // [Group.Child]: name + .group/.dataset/.softLink(target)/...
//   try root.attributeNames()           // same ordering rule
//   try root.stringAttribute("framework")          // vlen or fixed-length, scalar
//   try root.stringsAttribute("weight_names")      // Keras-style fixed-length byte strings
//   try root.chunkedStringsAttribute("layer_names")  // also `layer_names0`, `layer_names1`, ...
//   try root.intAttribute("rnnconf_case_schema"); try root.doubleAttribute("atol")
//   try root.attribute("x").value()    // AttributeValue, for display
//   let d = try file.dataset("weights/rnn/lstm_cell/kernel")    // nested path
//   try d.shape; try d.storedType      // [Int]; StoredType (.float(bits:), .integer(signed:bits:), .string(...))
//   let w: [Float] = try d.read()      // float16/32/64 and 8-64-bit ints converted by libhdf5
//   let s: [Double] = try d.read(offset: [0, 4], count: [2, 4])  // hyperslab
//   try d.readStrings(); try d.readBytes()
//   try File(image: bytes, name: "model.keras!model.weights.h5")  // in memory
//
// Writing (tests, captures)
//   let out = try File.create(path: p)                 // truncates; tracks creation order
//   let g = try out.root.createGroup("a/b")
//   try g.createDataset("kernel", shape: [3, 8], values: floats)   // Float->f32, Double->f64, Int->i64
//   try g.setAttribute("name", "text")                  // vlen UTF-8 scalar (h5py str)
//   try g.setAttribute("weight_names", fixedLengthStrings: names)  // numpy S<n> array (Keras)
//   try g.setAttribute("atol", 1e-5); try g.setAttribute("v", [1.0, 2.0], shape: [2])
//
// Errors: every failure is an `HDF5Error` with `kind`, `file`, `objectPath`,
// `operation`, `detail`, `hint` and libhdf5's own `libraryMessages`.
// Reads refuse declared sizes beyond `defaultReadLimitBytes` (1 GiB) before
// allocating; non-UTF-8 strings and strings read as numbers are errors.
//
// Hostile files (docs/HOSTILE-INPUTS.md): for a file opened read-only, each object header is
// checked from the file's bytes before libhdf5 looks anything up in it (`ObjectHeaderCheck`:
// link-info and attribute-info addresses), variable-length strings are read without libhdf5's
// global heap code (`GlobalHeap`, after a once-per-process `VlenSelfCheck`), and name listings
// decode the header's messages one at a time before libhdf5 tables them (`listingProbeName`).
//
// Inspection: `FileKind.sniff(path:)` says what a path is (HDF5, zip, JSON,
// text, empty, directory, missing); `TreePrinter().render(file)` draws the tree.
//
// Concurrency: objects are not Sendable (use one per task); every libhdf5 call
// runs under one process-wide recursive lock, so any number of threads may use
// their own objects at once.
