package pipeline

import (
	"math/rand/v2"
	"time"
)

// Default backoff bounds.
const (
	DefaultBackoffBase     = time.Second
	DefaultCredentialsMax  = 5 * time.Minute
	DefaultTransientMax    = 2 * time.Minute
	DefaultPollInterval    = 30 * time.Second
	DefaultFraudTimeout    = 6 * time.Hour
	DefaultMaxFileBytes    = 18 << 20
	DefaultMaxSessionBytes = 180 << 20
	DefaultMaxFiles        = 24
	defaultWorkers         = 4
	localRetryMax          = 2 * time.Minute
)

// DefaultTypes are the accepted extensions when Limits.Types is empty.
func DefaultTypes() []string { return []string{"pdf", "png", "jpg", "jpeg", "tif", "tiff"} }

// Backoff bounds the waits between retries. Zero fields mean the defaults:
// Base 1s; Max 5m for credential probes and 2m for transient errors.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// delay returns the wait before retry number try (1 for the first retry):
// Base doubled each try, capped at Max (or defMax), with jitter taking it
// down by up to a half so that workers do not retry in step.
func (b Backoff) delay(try int, defMax time.Duration) time.Duration {
	base, maxD := b.Base, b.Max
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if maxD <= 0 {
		maxD = defMax
	}
	d := base
	for i := 1; i < try && d < maxD; i++ {
		d *= 2
	}
	if d > maxD {
		d = maxD
	}
	if half := int64(d / 2); half > 0 {
		d -= time.Duration(rand.Int64N(half + 1))
	}
	return d
}
