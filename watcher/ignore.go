package watcher

import (
	"path/filepath"
	"strings"
)

// ignoredName reports whether a file called name is left alone in inbox in:
// hidden names, office lock files, partial downloads, shell droppings, the
// ready marker and the inbox's own globs (SPEC §4). The hidden attribute on
// Windows is checked separately, since it needs the file's attributes.
func ignoredName(name string, in *inbox) bool {
	if name == "" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~$") {
		return true
	}
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".tmp") || strings.HasSuffix(lower, ".part") ||
		lower == "thumbs.db" || lower == "desktop.ini" {
		return true
	}
	if in.isMarker(name) {
		return true
	}
	for _, glob := range in.Ignore {
		if matchGlob(glob, name, foldNames) {
			return true
		}
	}
	return false
}

// matchGlob reports whether name matches glob (filepath.Match syntax; a
// malformed glob matches nothing). With fold, case is ignored, as NTFS does:
// name also matches when both, lower-cased, match (so a fold match is never
// narrower than an exact one, even for a range such as [Z-a]).
func matchGlob(glob, name string, fold bool) bool {
	if ok, _ := filepath.Match(glob, name); ok || !fold {
		return ok
	}
	ok, _ := filepath.Match(strings.ToLower(glob), strings.ToLower(name))
	return ok
}

// hiddenFolder reports whether a folder called name is skipped by its name
// (our own temporary files and folders start with a dot).
func hiddenFolder(name string) bool {
	return name == "" || strings.HasPrefix(name, ".")
}
