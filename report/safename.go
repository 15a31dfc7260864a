package report

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxNameBytes bounds the length, in bytes of UTF-8, of a name made by
// SafeName. It leaves room for "__" plus a login or session id, a collision
// suffix and ".json" within the 255-unit limit of Linux and Windows.
const MaxNameBytes = 120

// hashLen is how many hex digits of the SHA-256 of the full name SafeName
// appends when it has to shorten a name.
const hashLen = 8

// SafeName turns a folder's path under the inbox ("/" separators), or the
// name of a file directly in the inbox root, into one file-name component
// that is safe on both Linux and Windows:
//
//   - "/" and "\" become "_", so the result is a single component;
//   - characters Windows refuses (< > : " | ? * and control characters) and
//     bytes that are not valid UTF-8 become "_";
//   - a leading "." becomes "_", so the name is never hidden, never "." or
//     "..", and never looks like one of our temporary files;
//   - trailing dots and spaces (which Windows drops) are removed;
//   - a reserved Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9,
//     CONIN$, CONOUT$, also with an extension, any case) gets a "_" prefix;
//   - a name longer than MaxNameBytes is cut on a rune boundary and "-" plus
//     8 hex digits of the SHA-256 of the full input is appended, so distinct
//     long names stay distinct;
//   - an empty result is "_".
//
// Unicode letters are kept. The result depends only on the input.
func SafeName(folder string) string {
	var b strings.Builder
	b.Grow(len(folder))
	for i, r := range folder {
		switch {
		case r == utf8.RuneError:
			// Invalid UTF-8 (or a literal U+FFFD): Windows cannot store the
			// former, and JSON would rewrite it anyway.
			b.WriteByte('_')
		case r == '/' || r == '\\':
			b.WriteByte('_')
		case r < 0x20 || r == 0x7f:
			b.WriteByte('_')
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		case i == 0 && r == '.':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	name := strings.TrimRight(b.String(), ". ")
	if name == "" {
		return "_"
	}
	if isReservedWindowsName(name) {
		name = "_" + name
	}
	if len(name) > MaxNameBytes {
		sum := sha256.Sum256([]byte(folder))
		keep := cutRunes(name, MaxNameBytes-1-hashLen)
		keep = strings.TrimRight(keep, ". ")
		name = keep + "-" + hex.EncodeToString(sum[:])[:hashLen]
	}
	return name
}

// cutRunes returns the longest prefix of s of at most n bytes that ends on a
// rune boundary.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// isReservedWindowsName reports whether Windows treats name as a device: the
// part before the first dot, with trailing spaces ignored, is one of the
// reserved names, in any case. COM and LPT with a superscript digit count too.
func isReservedWindowsName(name string) bool {
	stem, _, _ := strings.Cut(name, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) < 4 || (stem[:3] != "COM" && stem[:3] != "LPT") {
		return false
	}
	switch stem[3:] {
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
		return true
	}
	return false
}

// SessionBase joins a name made by SafeName and a login or session id into
// the base name of a session's report and folders: "<name>__<id>". Both are
// made safe again (SafeName leaves its own output unchanged), so a raw folder
// path or an odd id from the server can never step outside the outbox or
// archive.
func SessionBase(name, id string) string {
	return SafeName(name) + "__" + safeID(id)
}

// safeID keeps an id that is made only of letters, digits, "-" and "_" (as
// the ids Flinks returns are) and passes anything else through SafeName.
func safeID(id string) string {
	if id == "" || len(id) > MaxNameBytes {
		return SafeName(id)
	}
	for _, r := range id {
		ok := r == '-' || r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		if !ok {
			return SafeName(id)
		}
	}
	return id
}

// ArchiveDir is where a successful session's files go:
// root/YYYY-MM-DD/<name>__<loginID>, with the date of day as given (pass the
// local time).
func ArchiveDir(root string, day time.Time, name, loginID string) string {
	return filepath.Join(root, day.Format(time.DateOnly), SessionBase(name, loginID))
}

// FailedDir is where a failed or rejected session's files go:
// root/<name>__<sessionID>.
func FailedDir(root, name, sessionID string) string {
	return filepath.Join(root, SessionBase(name, sessionID))
}

// checkBase returns ErrUnsafeName unless base is one plain file-name
// component.
func checkBase(base string) error {
	if base == "" || base == "." || base == ".." || strings.ContainsAny(base, `/\`) || strings.ContainsRune(base, 0) {
		return ErrUnsafeName
	}
	return nil
}
