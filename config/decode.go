package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The raw* types are the key table: every key the file may hold, with its
// YAML name in the `key` tag. decodeNode fills them from a yaml.Node,
// keeping line numbers, and convert turns them into a Config. KnownKeys
// walks them, so the documentation test cannot drift from the decoder.

// scalar is one value as written, before expansion and conversion.
type scalar struct {
	Value string
	Line  int
	Set   bool // the key is present with a non-null value
}

// scalarList is a sequence of scalars, such as limits.types.
type scalarList struct {
	Items []scalar
	Line  int
	Set   bool
}

type rawConfig struct {
	Flinks    rawFlinks  `key:"flinks"`
	Limits    rawLimits  `key:"limits"`
	StateDir  scalar     `key:"state_dir"`
	Retention scalar     `key:"retention"`
	Workers   scalar     `key:"workers"`
	Retry     rawRetry   `key:"retry"`
	Inboxes   []rawInbox `key:"inboxes"`
	Log       rawLog     `key:"log"`
}

type rawFlinks struct {
	UploadURL        scalar   `key:"upload_url"`
	ClientID         scalar   `key:"client_id"`
	ClientSecret     scalar   `key:"client_secret"`
	ClientSecretFile scalar   `key:"client_secret_file"`
	Scope            scalar   `key:"scope"`
	TLS              rawTLS   `key:"tls"`
	Fraud            rawFraud `key:"fraud"`
}

type rawTLS struct {
	CertFile        scalar `key:"cert_file"`
	KeyFile         scalar `key:"key_file"`
	PFXFile         scalar `key:"pfx_file"`
	PFXPassword     scalar `key:"pfx_password"`
	PFXPasswordFile scalar `key:"pfx_password_file"`
	CAFile          scalar `key:"ca_file"`
}

type rawFraud struct {
	URL          scalar `key:"url"`
	CustomerID   scalar `key:"customer_id"`
	APIKey       scalar `key:"api_key"`
	APIKeyFile   scalar `key:"api_key_file"`
	PollInterval scalar `key:"poll_interval"`
	Timeout      scalar `key:"timeout"`
}

type rawRetry struct {
	Base           scalar `key:"base"`
	Max            scalar `key:"max"`
	CredentialsMax scalar `key:"credentials_max"`
}

type rawLimits struct {
	MaxFileMB          scalar     `key:"max_file_mb"`
	MaxSessionMB       scalar     `key:"max_session_mb"`
	MaxFilesPerSession scalar     `key:"max_files_per_session"`
	Types              scalarList `key:"types"`
}

type rawInbox struct {
	Line           int        `key:"-"`
	Path           scalar     `key:"path"`
	Outbox         scalar     `key:"outbox"`
	Archive        scalar     `key:"archive"`
	AfterSuccess   scalar     `key:"after_success"`
	Failed         scalar     `key:"failed"`
	Ignore         scalarList `key:"ignore"`
	Tag            scalar     `key:"tag"`
	ClientName     scalar     `key:"client_name"`
	StableFor      scalar     `key:"stable_for"`
	Settle         scalar     `key:"settle"`
	ReadyMarker    scalar     `key:"ready_marker"`
	RescanInterval scalar     `key:"rescan_interval"`
}

type rawLog struct {
	Level      scalar `key:"level"`
	File       scalar `key:"file"`
	MaxSizeMB  scalar `key:"max_size_mb"`
	MaxBackups scalar `key:"max_backups"`
	MaxAgeDays scalar `key:"max_age_days"`
	Console    scalar `key:"console"`
}

var (
	scalarType     = reflect.TypeFor[scalar]()
	scalarListType = reflect.TypeFor[scalarList]()
)

// KnownKeys returns every leaf key the decoder accepts as a dotted path,
// with "[]" for the elements of a list of mappings (inboxes[].path), sorted.
func KnownKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("key")
			if name == "" || name == "-" {
				continue
			}
			switch {
			case f.Type == scalarType || f.Type == scalarListType:
				keys = append(keys, prefix+name)
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, prefix+name+".")
			case f.Type.Kind() == reflect.Slice:
				walk(f.Type.Elem(), prefix+name+"[].")
			}
		}
	}
	walk(reflect.TypeFor[rawConfig](), "")
	sort.Strings(keys)
	return keys
}

// decoder walks a yaml.Node into the raw types, collecting problems.
type decoder struct {
	errs  []*FieldError
	lines map[string]int // dotted key → line, for validation messages
}

func (d *decoder) fail(line int, key, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping of keys"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a single value"
	}
}

// isNull reports whether n is an empty or null scalar ("key:", "key: ~").
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// decodeNode fills v (a pointer target of a raw type) from n.
func (d *decoder) decodeNode(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind == yaml.AliasNode {
		d.fail(n.Line, key, "YAML aliases (*%s) are not supported (write the value out in full)", n.Value)
		return
	}
	if n.Anchor != "" {
		d.fail(n.Line, key, "YAML anchors (&%s) are not supported (write the value out in full)", n.Anchor)
		return
	}
	if _, ok := d.lines[key]; !ok && key != "" {
		d.lines[key] = n.Line
	}
	switch v.Type() {
	case scalarType:
		d.decodeScalar(n, v.Addr().Interface().(*scalar), key)
		return
	case scalarListType:
		d.decodeList(n, v.Addr().Interface().(*scalarList), key)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeMapping(n, v, key)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(n.Line, key, "expected a list (start each entry with \"- \" on its own line), got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decodeNode(item, s.Index(i), key+"["+strconv.Itoa(i)+"]")
		}
		v.Set(s)
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, s *scalar, key string) {
	s.Line = n.Line
	switch {
	case isNull(n):
		return
	case n.Kind != yaml.ScalarNode:
		d.fail(n.Line, key, "expected a single value, got %s", kindName(n))
		return
	}
	s.Value, s.Set = n.Value, true
}

func (d *decoder) decodeList(n *yaml.Node, l *scalarList, key string) {
	l.Line = n.Line
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, key, "expected a list like [a, b], got %s", kindName(n))
		return
	}
	l.Set = true
	l.Items = make([]scalar, 0, len(n.Content))
	for i, item := range n.Content {
		k := key + "[" + strconv.Itoa(i) + "]"
		if item.Kind == yaml.AliasNode || item.Anchor != "" || item.Kind != yaml.ScalarNode || isNull(item) {
			d.fail(item.Line, k, "expected a single non-empty value, got %s", kindName(item))
			continue
		}
		d.lines[k] = item.Line
		l.Items = append(l.Items, scalar{Value: item.Value, Line: item.Line, Set: true})
	}
}

func (d *decoder) decodeMapping(n *yaml.Node, v reflect.Value, key string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, key, "expected a mapping of keys, got %s", kindName(n))
		return
	}
	t := v.Type()
	if f, ok := t.FieldByName("Line"); ok && f.Type.Kind() == reflect.Int {
		v.FieldByName("Line").SetInt(int64(n.Line))
	}
	fields := make(map[string]int, t.NumField())
	var names []string
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("key"); name != "" && name != "-" {
			fields[name] = i
			names = append(names, name)
		}
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name := k.Value
		full := name
		if key != "" {
			full = key + "." + name
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k.Line, key, "a key must be a plain name, got %s", kindName(k))
			continue
		}
		if k.Value == "<<" {
			d.fail(k.Line, full, "YAML merge keys are not supported (write the keys out in full)")
			continue
		}
		idx, ok := fields[name]
		if !ok {
			hint := suggest(name, names)
			if parent := sectionOf(name); parent != "" && !strings.HasPrefix(hint, " (did you mean") {
				hint = " (" + name + " belongs under " + parent + ": move it there)"
			}
			d.fail(k.Line, full, "unknown key%s", hint)
			continue
		}
		if first, dup := seen[name]; dup {
			d.fail(k.Line, full, "set twice (first on line %d; keep one)", first)
			continue
		}
		seen[name] = k.Line
		d.lines[full] = k.Line // a section's problems point at its key
		d.decodeNode(val, v.Field(idx), full)
	}
}

// sectionOf returns the section a key belongs to ("inboxes[]" for
// stable_for, "flinks" for fraud), or "" when none or several have it.
func sectionOf(name string) string {
	found := ""
	for _, k := range KnownKeys() {
		segs := strings.Split(k, ".")
		for j := 1; j < len(segs); j++ {
			if strings.TrimSuffix(segs[j], "[]") != name {
				continue
			}
			parent := strings.Join(segs[:j], ".")
			if found != "" && found != parent {
				return ""
			}
			found = parent
		}
	}
	return found
}

// suggest returns " (did you mean x?)" for the known name nearest to name,
// or a list of the valid keys when none is near.
func suggest(name string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		dist := editDistance(strings.ToLower(name), k)
		if bestDist < 0 || dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" && bestDist <= max(2, len(name)/3) {
		return " (did you mean " + best + "?)"
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return " (valid keys here: " + strings.Join(sorted, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
