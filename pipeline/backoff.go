package pipeline

import "time"

// Default backoff bounds.
const (
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

// delay returns the wait before retry number try (1 for the first retry):
// Options.Backoff (Base doubled each try, capped at its Max, or defMax when
// Max is zero), with jitter taking up to half of it off (when Backoff.Jitter
// is zero) so that workers do not retry in step.
func (p *Pipeline) delay(try int, defMax time.Duration) time.Duration {
	max := p.opts.Backoff.Max
	if max <= 0 {
		max = defMax
	}
	return p.capped(try, max)
}

// credentialsDelay is delay for the credentials probe: capped at
// Options.CredentialsMax, not Backoff.Max.
func (p *Pipeline) credentialsDelay(try int) time.Duration {
	max := p.opts.CredentialsMax
	if max <= 0 {
		max = DefaultCredentialsMax
	}
	return p.capped(try, max)
}

func (p *Pipeline) capped(try int, max time.Duration) time.Duration {
	b := p.opts.Backoff
	b.Max = max
	if b.Jitter <= 0 {
		b.Jitter = 0.5
	}
	return b.Delay(try - 1)
}
