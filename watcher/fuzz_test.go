package watcher

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzIgnoredName feeds file names, which come from outside, through the
// ignore rules: no panic, and the fixed rules always hold.
func FuzzIgnoredName(f *testing.F) {
	for _, seed := range []string{
		"statement.pdf", ".hidden", "~$lock.docx", "a.TMP", "b.Part", "Thumbs.db",
		"DESKTOP.INI", "READY", "x.bak", "Relevé 東京 ✓.pdf", "[", "*", "\x00", "", strings.Repeat("é", 120),
	} {
		f.Add(seed, "*.bak")
	}
	f.Fuzz(func(t *testing.T, name, glob string) {
		if _, err := filepath.Match(glob, ""); err != nil {
			glob = "" // New refuses malformed globs
		}
		in := &inbox{Inbox: Inbox{ReadyMarker: "READY", Ignore: []string{glob}}}
		got := ignoredName(name, in)
		lower := strings.ToLower(name)
		mustIgnore := strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~$") ||
			strings.HasSuffix(lower, ".tmp") || strings.HasSuffix(lower, ".part") ||
			lower == "thumbs.db" || lower == "desktop.ini" || in.isMarker(name)
		if mustIgnore && !got {
			t.Errorf("ignoredName(%q) = false, want true", name)
		}
		if ok, _ := filepath.Match(glob, name); ok && glob != "" && !got {
			t.Errorf("ignoredName(%q) with glob %q = false, want true", name, glob)
		}
		if !mustIgnore && glob == "" && name != "" && got {
			t.Errorf("ignoredName(%q) = true, want false", name)
		}
	})
}

// FuzzMatchGlob checks the case-folding glob match used on Windows: no
// panic, never narrower than the exact match, and blind to the case of the
// name.
func FuzzMatchGlob(f *testing.F) {
	for _, seed := range [][2]string{
		{"*.bak", "OLD.BAK"}, {"Draft-*", "draft-1.pdf"}, {"[a-c]*.PDF", "B1.pdf"},
		{"[Z-a]", "_"}, {"relevé-*", "RELEVÉ-1.pdf"}, {"[", "["}, {"", ""}, {"\\*", "\\x"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, glob, name string) {
		exact, fold := matchGlob(glob, name, false), matchGlob(glob, name, true)
		if ok, _ := filepath.Match(glob, name); ok != exact {
			t.Errorf("matchGlob(%q, %q, false) = %v, want filepath.Match's %v", glob, name, exact, ok)
		}
		if exact && !fold {
			t.Errorf("matchGlob(%q, %q): exact match but no fold match", glob, name)
		}
		if fold != matchGlob(glob, strings.ToUpper(name), true) && fold != matchGlob(glob, strings.ToLower(name), true) {
			t.Errorf("matchGlob(%q, %q, true) = %v depends on the name's case", glob, name, fold)
		}
	})
}
