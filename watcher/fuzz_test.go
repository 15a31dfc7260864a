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
