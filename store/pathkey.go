package store

import (
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pathCase chooses how the taken index compares paths. The zero value
// follows the platform: case-insensitive on Windows, exact elsewhere.
type pathCase int

const (
	pathCasePlatform pathCase = iota
	pathCaseExact
	pathCaseFold
)

// fold reports whether paths are compared without case.
func (c pathCase) fold() bool {
	switch c {
	case pathCaseExact:
		return false
	case pathCaseFold:
		return true
	}
	return caseInsensitivePaths
}

// foldPath is the key of path p in the taken index: p cleaned and, when
// caseInsensitive, with every letter replaced by the smallest rune of its
// Unicode simple case folding orbit, so "Applicant-1" and "APPLICANT-1"
// (and, say, "k" and the Kelvin sign) share one key. Folding more than
// the file system does can only hold a file back until the session that
// holds its look-alike is done; folding less would upload it twice.
func foldPath(p string, caseInsensitive bool) string {
	p = filepath.Clean(p)
	if !caseInsensitive {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte(p[i]) // not UTF-8: keep the byte as it is
		} else {
			b.WriteRune(foldRune(r))
		}
		i += n
	}
	return b.String()
}

// foldRune returns the smallest rune that r folds to under Unicode simple
// case folding (r itself when it has no other case).
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		// 'K' and 'S' have non-ASCII look-alikes (Kelvin sign, long s)
		// greater than them, so the ASCII upper case is the smallest.
		return r
	}
	low := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < low {
			low = f
		}
	}
	return low
}
