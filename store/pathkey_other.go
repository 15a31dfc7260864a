//go:build !windows

package store

// caseInsensitivePaths is false off Windows: the taken index compares
// paths exactly (after cleaning).
const caseInsensitivePaths = false
