package store

// caseInsensitivePaths is true on Windows, whose file systems match names
// without case: the taken index folds paths.
const caseInsensitivePaths = true
