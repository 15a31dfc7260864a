package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/uploader"
)

// errStop is returned when the run must end (ctx done, or a credentials
// error in Once mode); the session stays in its persisted state.
var errStop = errors.New("pipeline stopping")

// call runs one API call behind the pause gate. A credentials error closes
// the gate: the first worker to meet it probes (retries its own call with
// capped backoff) and opens the gate as soon as the call gets any answer
// but a credentials refusal; the others wait at the gate and then retry.
// A transient error (also one met while probing) is retried here when
// retryTransient is set, with backoff and jitter, honouring Retry-After;
// otherwise it is returned. Any other result is returned as is.
func (p *Pipeline) call(ctx context.Context, log zerolog.Logger, retryTransient bool, fn func(context.Context) error) error {
	prober := false
	probes, transients := 0, 0
	for {
		if !prober {
			if err := p.gate.wait(ctx); err != nil {
				return errStop
			}
		}
		err := fn(ctx)
		if ctx.Err() != nil {
			return errStop
		}
		kind := uploader.KindOf(err)
		// Any answer but a credentials refusal means the credentials got
		// through: open the gate. A transient error is then handled as for
		// any call (returned unless retryTransient), so an upload in doubt
		// is never sent again to the same aggregation.
		if prober && kind != uploader.Credentials {
			p.gate.resume()
			prober = false
			log.Info().Msg("credentials accepted again: uploading resumes")
		}
		switch {
		case err == nil:
			return nil
		case kind == uploader.Credentials:
			if p.opts.Once {
				werr := fmt.Errorf("pipeline: %w: %w", ErrCredentials, err)
				select {
				case p.fatal <- werr:
				default:
				}
				return errStop
			}
			if !prober {
				if !p.gate.pause(err.Error(), p.clk.Now()) {
					continue // someone else probes: wait at the gate
				}
				prober = true
				log.Error().Err(err).Msg("credentials refused: uploading paused until they work again; fix the credentials or certificate")
				p.setLastErrorQuiet(err)
			}
			probes++
			if p.sleep(ctx, p.credentialsDelay(probes)) != nil {
				return errStop
			}
		case kind == uploader.Transient && retryTransient:
			transients++
			if p.transientRetry(ctx, log, err, transients) != nil {
				return errStop
			}
		default:
			return err
		}
	}
}

// transientRetry waits before retry number try after the transient error
// err: the backoff, or the server's Retry-After when longer.
func (p *Pipeline) transientRetry(ctx context.Context, log zerolog.Logger, err error, try int) error {
	d := p.delay(try, DefaultTransientMax)
	if ra := uploader.RetryAfterOf(err); ra > d {
		d = ra
	}
	log.Debug().Err(err).Int("try", try).Dur("retry_in", d).Msg("transient error: retrying")
	p.setLastErrorQuiet(err)
	return p.transientWait(ctx, d)
}

// transientFailed counts one more transient error for session id since its
// last successful call and returns the count, the retry number to back off
// by.
func (p *Pipeline) transientFailed(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.transients[id]++
	return p.transients[id]
}

// callSucceeded resets session id's count of transient errors: the next
// one waits the backoff's Base again.
func (p *Pipeline) callSucceeded(id string) {
	p.mu.Lock()
	delete(p.transients, id)
	p.mu.Unlock()
}

// transientWait sleeps d while counted as retrying a transient error.
func (p *Pipeline) transientWait(ctx context.Context, d time.Duration) error {
	p.mu.Lock()
	p.retrying++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.retrying--
		p.mu.Unlock()
	}()
	return p.sleep(ctx, d)
}

// sleep waits d on the injected clock, or until ctx is done.
func (p *Pipeline) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := p.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// firstProtocolError reports whether this is the first unreadable fraud
// reply of session id in this run, so it is logged at warn once.
func (p *Pipeline) firstProtocolError(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.protoSeen[id] {
		return false
	}
	p.protoSeen[id] = true
	return true
}

func (p *Pipeline) setLastErrorQuiet(err error) {
	p.mu.Lock()
	p.lastErr = LastError{Time: p.clk.Now(), Message: err.Error()}
	p.mu.Unlock()
}

// notSent reports whether a transient upload error certainly left the
// server without the file: a 429, a failed token request (the upload itself
// was never sent), or a connection that was never made. Anything else
// (timeout, reset, 5xx) leaves the upload in doubt.
func notSent(err error) bool {
	if uploader.HTTPStatusOf(err) == 429 {
		return true
	}
	var ue *uploader.Error
	if errors.As(err, &ue) && ue.Op == "token" {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
