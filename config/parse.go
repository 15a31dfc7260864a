package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/flinkdrop/flinkdrop/internal/secret"
)

// ParseOptions are the inputs of Parse besides the YAML. The zero value
// reads the real environment and files and resolves relative paths against
// the working directory.
type ParseOptions struct {
	// Name is the file name used in messages ("config.yaml:12: ...");
	// "" means "config".
	Name string
	// BaseDir is the folder relative paths are resolved against; "" means
	// the working directory.
	BaseDir string
	// LookupEnv expands ${NAME}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ReadFile reads <secret>_file files; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// SkipSecrets leaves every secret (client_secret, pfx_password,
	// api_key) zero: neither its ${NAME} nor its _file is read, and a
	// missing one is not an error. Everything else is validated as usual.
	// It is for commands that never go on the wire, such as
	// `flinkdrop status`, run by an operator who may not read the secrets.
	SkipSecrets bool
}

// LoadOptions are the choices of LoadWith. The zero value is Load.
type LoadOptions struct {
	// SkipSecrets: see ParseOptions.SkipSecrets.
	SkipSecrets bool
}

// Load reads and parses the file at path, with the real environment.
// Relative paths in it are resolved against the file's folder, and
// Config.Path is the file's absolute path.
func Load(path string) (*Config, error) {
	return LoadWith(path, LoadOptions{})
}

// LoadWith is Load with options.
func LoadWith(path string, opts LoadOptions) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: resolve %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w (pass the right file with --config, or start from config.example.yaml)", path, err)
	}
	c, err := Parse(data, ParseOptions{Name: path, BaseDir: filepath.Dir(abs), SkipSecrets: opts.SkipSecrets})
	if err != nil {
		return nil, err
	}
	c.Path = abs
	return c, nil
}

// Parse decodes a configuration from YAML, starting from Default, and
// validates it. The error joins one *FieldError per problem, sorted by line.
func Parse(data []byte, opts ParseOptions) (*Config, error) {
	name := opts.Name
	if name == "" {
		name = "config"
	}
	d := &decoder{lines: make(map[string]int)}
	var raw rawConfig
	root, ok := d.parseYAML(data)
	if !ok {
		// The YAML itself is broken: validation would only add noise.
		return nil, d.result(name)
	}
	if root != nil {
		d.decodeMapping(root, reflect.ValueOf(&raw).Elem(), "")
	}
	cv := &converter{
		d:        d,
		lookup:   opts.LookupEnv,
		readFile: opts.ReadFile,
		baseDir:  opts.BaseDir,
		bad:      make(map[string]bool),
		skip:     opts.SkipSecrets,
	}
	if cv.lookup == nil {
		cv.lookup = os.LookupEnv
	}
	if cv.readFile == nil {
		cv.readFile = os.ReadFile
	}
	c := cv.convert(&raw)
	for _, e := range c.validate() {
		if cv.bad[e.Key] || (opts.SkipSecrets && isSecretKey(e.Key)) {
			continue // already reported where the value was read
		}
		e.Line = d.lineOf(e.Key)
		d.errs = append(d.errs, e)
	}
	if len(d.errs) > 0 {
		return nil, d.result(name)
	}
	return c, nil
}

// parseYAML decodes data into a node tree and returns the top mapping
// (nil for an empty file).
func (d *decoder) parseYAML(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		d.yamlError(err)
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = 0
		}
		d.fail(line, "", "the file holds more than one YAML document (remove the --- line and what follows, or merge them)")
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, true
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil, true
	}
	if root.Kind != yaml.MappingNode {
		d.fail(root.Line, "", "the file must be a mapping of keys such as flinks:, inboxes: (got %s)", kindName(root))
		return nil, false
	}
	return root, true
}

// yamlError turns a syntax error into a FieldError with its line.
func (d *decoder) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	d.fail(line, "", "not valid YAML: %s (check the indentation and quoting there)", msg)
}

// lineOf returns the line of key, or of its nearest parent that has one.
func (d *decoder) lineOf(key string) int {
	for key != "" {
		if l, ok := d.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// result joins the problems, sorted by line, naming the file.
func (d *decoder) result(name string) error {
	sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
	errs := make([]error, len(d.errs))
	for i, e := range d.errs {
		e.File = name
		errs[i] = e
	}
	return errors.Join(errs...)
}

// converter turns the raw values into a Config.
type converter struct {
	d        *decoder
	lookup   func(string) (string, bool)
	readFile func(string) ([]byte, error)
	baseDir  string
	bad      map[string]bool // keys already reported
	skip     bool            // ParseOptions.SkipSecrets
}

// isSecretKey reports whether key is one of the secrets SkipSecrets skips.
func isSecretKey(key string) bool {
	switch key {
	case "flinks.client_secret", "flinks.tls.pfx_password", "flinks.fraud.api_key":
		return true
	}
	return false
}

func (cv *converter) fail(line int, key, format string, args ...any) {
	cv.bad[key] = true
	cv.d.fail(line, key, format, args...)
}

func (cv *converter) convert(r *rawConfig) *Config {
	c := Default()
	f := &c.Flinks
	cv.url(&f.UploadURL, r.Flinks.UploadURL, "flinks.upload_url")
	cv.str(&f.ClientID, r.Flinks.ClientID, "flinks.client_id")
	cv.secret(&f.ClientSecret, r.Flinks.ClientSecret, r.Flinks.ClientSecretFile, "flinks.client_secret")
	cv.str(&f.Scope, r.Flinks.Scope, "flinks.scope")
	cv.path(&f.TLS.CertFile, r.Flinks.TLS.CertFile, "flinks.tls.cert_file")
	cv.path(&f.TLS.KeyFile, r.Flinks.TLS.KeyFile, "flinks.tls.key_file")
	cv.path(&f.TLS.PFXFile, r.Flinks.TLS.PFXFile, "flinks.tls.pfx_file")
	cv.secret(&f.TLS.PFXPassword, r.Flinks.TLS.PFXPassword, r.Flinks.TLS.PFXPasswordFile, "flinks.tls.pfx_password")
	cv.path(&f.TLS.CAFile, r.Flinks.TLS.CAFile, "flinks.tls.ca_file")
	cv.url(&f.Fraud.URL, r.Flinks.Fraud.URL, "flinks.fraud.url")
	cv.str(&f.Fraud.CustomerID, r.Flinks.Fraud.CustomerID, "flinks.fraud.customer_id")
	cv.secret(&f.Fraud.APIKey, r.Flinks.Fraud.APIKey, r.Flinks.Fraud.APIKeyFile, "flinks.fraud.api_key")
	cv.duration(&f.Fraud.PollInterval, r.Flinks.Fraud.PollInterval, "flinks.fraud.poll_interval")
	cv.duration(&f.Fraud.Timeout, r.Flinks.Fraud.Timeout, "flinks.fraud.timeout")

	cv.integer(&c.Limits.MaxFileMB, r.Limits.MaxFileMB, "limits.max_file_mb")
	cv.integer(&c.Limits.MaxSessionMB, r.Limits.MaxSessionMB, "limits.max_session_mb")
	cv.integer(&c.Limits.MaxFilesPerSession, r.Limits.MaxFilesPerSession, "limits.max_files_per_session")
	if types, ok := cv.list(r.Limits.Types, "limits.types"); ok {
		c.Limits.Types = normalizeTypes(types)
	}

	cv.path(&c.StateDir, r.StateDir, "state_dir")
	cv.duration(&c.Retention, r.Retention, "retention")
	cv.integer(&c.Workers, r.Workers, "workers")
	cv.duration(&c.Retry.Base, r.Retry.Base, "retry.base")
	cv.duration(&c.Retry.Max, r.Retry.Max, "retry.max")
	cv.duration(&c.Retry.CredentialsMax, r.Retry.CredentialsMax, "retry.credentials_max")

	for i, ri := range r.Inboxes {
		k := "inboxes[" + strconv.Itoa(i) + "]."
		in := DefaultInbox()
		cv.path(&in.Path, ri.Path, k+"path")
		cv.path(&in.Outbox, ri.Outbox, k+"outbox")
		cv.path(&in.Archive, ri.Archive, k+"archive")
		cv.word(&in.AfterSuccess, ri.AfterSuccess, k+"after_success")
		cv.path(&in.Failed, ri.Failed, k+"failed")
		if ignore, ok := cv.list(ri.Ignore, k+"ignore"); ok {
			in.Ignore = ignore
		}
		cv.str(&in.Tag, ri.Tag, k+"tag")
		cv.str(&in.ClientName, ri.ClientName, k+"client_name")
		cv.duration(&in.StableFor, ri.StableFor, k+"stable_for")
		cv.duration(&in.Settle, ri.Settle, k+"settle")
		cv.str(&in.ReadyMarker, ri.ReadyMarker, k+"ready_marker")
		cv.duration(&in.RescanInterval, ri.RescanInterval, k+"rescan_interval")
		c.Inboxes = append(c.Inboxes, in)
	}

	cv.word(&c.Log.Level, r.Log.Level, "log.level")
	cv.path(&c.Log.File, r.Log.File, "log.file")
	cv.integer(&c.Log.MaxSizeMB, r.Log.MaxSizeMB, "log.max_size_mb")
	cv.integer(&c.Log.MaxBackups, r.Log.MaxBackups, "log.max_backups")
	cv.integer(&c.Log.MaxAgeDays, r.Log.MaxAgeDays, "log.max_age_days")
	cv.word(&c.Log.Console, r.Log.Console, "log.console")
	return &c
}

// expand returns the value of s with ${NAME} replaced from the environment.
func (cv *converter) expand(s scalar, key string) (string, bool) {
	v, err := expandEnv(s.Value, cv.lookup)
	if err != nil {
		cv.fail(s.Line, key, "%v", err)
		return "", false
	}
	return v, true
}

func (cv *converter) str(dst *string, s scalar, key string) {
	if !s.Set {
		return
	}
	if v, ok := cv.expand(s, key); ok {
		*dst = v
	}
}

// word is a keyword such as "move" or "info": trimmed and lower-cased.
func (cv *converter) word(dst *string, s scalar, key string) {
	if !s.Set {
		return
	}
	if v, ok := cv.expand(s, key); ok {
		*dst = strings.ToLower(strings.TrimSpace(v))
	}
}

func (cv *converter) url(dst *string, s scalar, key string) {
	if !s.Set {
		return
	}
	if v, ok := cv.expand(s, key); ok {
		*dst = strings.TrimRight(strings.TrimSpace(v), "/")
	}
}

func (cv *converter) path(dst *string, s scalar, key string) {
	if !s.Set {
		return
	}
	v, ok := cv.expand(s, key)
	if !ok {
		return
	}
	p, err := cv.abs(v)
	if err != nil {
		cv.fail(s.Line, key, "cannot make %q absolute: %v (write an absolute path)", v, err)
		return
	}
	*dst = p
}

// abs makes p absolute against the base folder and cleans it; "" stays "".
func (cv *converter) abs(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	if !filepath.IsAbs(p) && cv.baseDir != "" {
		p = filepath.Join(cv.baseDir, p)
	}
	return filepath.Abs(p)
}

func (cv *converter) duration(dst *time.Duration, s scalar, key string) {
	if !s.Set {
		return
	}
	v, ok := cv.expand(s, key)
	if !ok {
		return
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		cv.fail(s.Line, key, "%q is not a duration (write it like 5s or 1m30s)", v)
		return
	}
	*dst = d
}

func (cv *converter) integer(dst *int, s scalar, key string) {
	if !s.Set {
		return
	}
	v, ok := cv.expand(s, key)
	if !ok {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		cv.fail(s.Line, key, "%q is not a whole number (write it like 4)", v)
		return
	}
	*dst = n
}

func (cv *converter) list(l scalarList, key string) ([]string, bool) {
	if !l.Set {
		return nil, false
	}
	out := make([]string, 0, len(l.Items))
	ok := true
	for i, item := range l.Items {
		v, good := cv.expand(item, key+"["+strconv.Itoa(i)+"]")
		if !good {
			ok = false
			continue
		}
		out = append(out, v)
	}
	if !ok {
		cv.bad[key] = true
	}
	return out, ok
}

// secret reads a secret given inline (s) or as a file (file); key is the
// inline key, key+"_file" the other. Messages never hold the secret.
func (cv *converter) secret(dst *secret.Value, s, file scalar, key string) {
	fileKey := key + "_file"
	switch {
	case s.Set && file.Set:
		cv.bad[key] = true
		cv.fail(file.Line, fileKey, "both %s and %s are set (keep one)", lastSegment(key), lastSegment(fileKey))
	case cv.skip:
		// Neither the environment nor the file is read.
	case s.Set:
		v, ok := cv.expand(s, key)
		if !ok {
			cv.bad[key] = true
			return
		}
		*dst = secret.New(v)
	case file.Set:
		cv.bad[key] = true // its problems are reported under the _file key
		v, ok := cv.expand(file, fileKey)
		if !ok {
			return
		}
		p, err := cv.abs(v)
		if err != nil {
			cv.fail(file.Line, fileKey, "cannot make %q absolute: %v (write an absolute path)", v, err)
			return
		}
		data, err := cv.readFile(p)
		if err != nil {
			cv.fail(file.Line, fileKey, "cannot read %s: %v (check the path and that the service account may read it)", p, errors.Unwrap(err))
			return
		}
		v = strings.TrimRight(string(data), "\r\n")
		if v == "" {
			cv.fail(file.Line, fileKey, "file %s is empty (write the secret into it)", p)
			return
		}
		*dst = secret.New(v)
	}
}

func lastSegment(key string) string {
	return key[strings.LastIndexByte(key, '.')+1:]
}

// normalizeTypes lower-cases the types, drops a leading dot and duplicates.
func normalizeTypes(types []string) []string {
	out := make([]string, 0, len(types))
	seen := make(map[string]bool, len(types))
	for _, t := range types {
		t = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t), "."))
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// expandEnv replaces ${NAME} in s with the variable's value; $${ is a
// literal ${. Values are not expanded again.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", errors.New("unterminated ${ (close it with }, or write $${ for a literal ${)")
		}
		name := s[i+2 : i+2+end]
		if !validEnvName(name) {
			return "", errors.New("a ${...} reference holds something other than a variable name (use letters, digits and _, like ${FLINKS_API_KEY}; write $${ for a literal ${)")
		}
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set (set it for the service, or write the value in the file)", name)
		}
		b.WriteString(v)
		s = s[i+2+end+1:]
	}
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
