// Package config loads and validates flinkdrop's YAML configuration.
//
// Load reads a file; Parse decodes bytes. Both start from Default, apply the
// keys the file sets, expand ${NAME} from the environment inside each value,
// read <secret>_file secrets, make paths absolute and then run Validate, so a
// Config they return is ready to use. Every problem is reported at once, each
// as a *FieldError naming the file, the line, the dotted key and the fix.
// LoadWith(path, LoadOptions{SkipSecrets: true}) validates everything but
// the secrets, which it leaves unread: for `flinkdrop status`.
package config

import (
	"time"

	"github.com/flinkdrop/flinkdrop/internal/secret"
)

// Defaults of SPEC §3 that callers may want to refer to.
const (
	DefaultUploadURL      = "https://upload-mtls.flinksapp.com/api/v1"
	DefaultScope          = "ocr.write"
	DefaultPollInterval   = 30 * time.Second
	DefaultFraudTimeout   = 6 * time.Hour
	DefaultMaxFileMB      = 18
	DefaultMaxSessionMB   = 180
	DefaultMaxFiles       = 24
	DefaultRetention      = 720 * time.Hour
	DefaultWorkers        = 4
	DefaultRetryBase      = time.Second
	DefaultRetryMax       = 2 * time.Minute
	DefaultRetryCredsMax  = 5 * time.Minute
	DefaultStableFor      = 5 * time.Second
	DefaultSettle         = 30 * time.Second
	DefaultRescanInterval = 60 * time.Second
	DefaultLogLevel       = "info"
	DefaultLogMaxSizeMB   = 100
	DefaultLogMaxBackups  = 10
	DefaultLogMaxAgeDays  = 30
	DefaultLogConsole     = ConsoleAuto
)

// After-success actions of an inbox.
const (
	AfterSuccessMove   = "move"
	AfterSuccessDelete = "delete"
)

// Console formats of Log.Console.
const (
	ConsoleAuto   = "auto"   // readable on a terminal, JSON otherwise
	ConsoleJSON   = "json"   // always JSON lines
	ConsolePretty = "pretty" // always the readable form
)

// MB is the unit of the limits: 2^20 bytes.
const MB = 1 << 20

// KnownTypes are the file types Flinks accepts, by lower-case extension.
func KnownTypes() []string { return []string{"pdf", "png", "jpg", "jpeg", "tif", "tiff"} }

// Config is the whole configuration.
type Config struct {
	// Path is the absolute path of the file it was loaded from, "" when the
	// Config was built in code.
	Path      string
	Flinks    Flinks
	Limits    Limits
	StateDir  string        // the bbolt database and the status file
	Retention time.Duration // finished sessions are pruned after this
	Workers   int           // sessions uploaded at once
	Retry     Retry
	Inboxes   []Inbox
	Log       Log
}

// Retry bounds the waits between retries: exponential from Base with
// jitter, capped at Max for network errors, 5xx, 429 and local folder
// errors, and at CredentialsMax while credentials or the certificate are
// refused.
type Retry struct {
	Base           time.Duration
	Max            time.Duration
	CredentialsMax time.Duration
}

// Flinks is how to reach the Flinks Upload API and the fraud analysis.
type Flinks struct {
	UploadURL    string // without a trailing slash
	ClientID     string
	ClientSecret secret.Value
	Scope        string
	TLS          TLS
	Fraud        Fraud
}

// TLS is the client certificate (PEM pair or PFX) and the extra server roots.
type TLS struct {
	CertFile    string
	KeyFile     string
	PFXFile     string
	PFXPassword secret.Value
	CAFile      string // "" trusts the system roots only
}

// Fraud is the fraud-analysis endpoint. An empty URL turns polling off.
type Fraud struct {
	URL          string // without a trailing slash
	CustomerID   string
	APIKey       secret.Value
	PollInterval time.Duration
	Timeout      time.Duration
}

// Enabled reports whether fraud polling is configured.
func (f Fraud) Enabled() bool { return f.URL != "" }

// Limits are the local checks made before anything is uploaded.
type Limits struct {
	MaxFileMB          int
	MaxSessionMB       int
	MaxFilesPerSession int
	Types              []string // lower-case extensions without the dot
}

// MaxFileBytes is MaxFileMB in bytes.
func (l Limits) MaxFileBytes() int64 { return int64(l.MaxFileMB) * MB }

// MaxSessionBytes is MaxSessionMB in bytes.
func (l Limits) MaxSessionBytes() int64 { return int64(l.MaxSessionMB) * MB }

// Inbox is one watched folder and where its results go.
type Inbox struct {
	Path           string
	Outbox         string // reports
	Archive        string // files of finished sessions (after_success: move)
	AfterSuccess   string // AfterSuccessMove or AfterSuccessDelete
	Failed         string // files of failed or rejected sessions
	Ignore         []string
	Tag            string
	ClientName     string
	StableFor      time.Duration
	Settle         time.Duration
	ReadyMarker    string
	RescanInterval time.Duration
}

// Log is where and how the daemon logs.
type Log struct {
	Level      string // trace, debug, info, warn or error
	File       string // "" logs to stderr only
	MaxSizeMB  int    // rotate the file at this size
	MaxBackups int    // rotated files kept; 0 keeps all
	MaxAgeDays int    // days rotated files are kept; 0 keeps them forever
	Console    string // ConsoleAuto, ConsoleJSON or ConsolePretty
}

// Default returns every default of SPEC §3. It has no inboxes: each inbox
// in a file starts from DefaultInbox.
func Default() Config {
	return Config{
		Flinks: Flinks{
			UploadURL: DefaultUploadURL,
			Scope:     DefaultScope,
			Fraud: Fraud{
				PollInterval: DefaultPollInterval,
				Timeout:      DefaultFraudTimeout,
			},
		},
		Limits: Limits{
			MaxFileMB:          DefaultMaxFileMB,
			MaxSessionMB:       DefaultMaxSessionMB,
			MaxFilesPerSession: DefaultMaxFiles,
			Types:              KnownTypes(),
		},
		StateDir:  defaultStateDir(),
		Retention: DefaultRetention,
		Workers:   DefaultWorkers,
		Retry: Retry{
			Base:           DefaultRetryBase,
			Max:            DefaultRetryMax,
			CredentialsMax: DefaultRetryCredsMax,
		},
		Log: Log{
			Level:      DefaultLogLevel,
			MaxSizeMB:  DefaultLogMaxSizeMB,
			MaxBackups: DefaultLogMaxBackups,
			MaxAgeDays: DefaultLogMaxAgeDays,
			Console:    DefaultLogConsole,
		},
	}
}

// DefaultInbox returns the defaults of one inbox; the folders are empty.
func DefaultInbox() Inbox {
	return Inbox{
		AfterSuccess:   AfterSuccessMove,
		StableFor:      DefaultStableFor,
		Settle:         DefaultSettle,
		RescanInterval: DefaultRescanInterval,
	}
}
