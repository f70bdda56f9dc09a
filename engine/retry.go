// retry.go is request handling: how long to wait for a provider's first byte, how many
// times to try, how long to wait between tries, and which answers count as failures. The
// settings come in layers (a universal step's config and headers, the request's cf-aig-*
// headers, the gateway's settings); the most specific layer that sets a value wins.
package engine

import (
	"strconv"
	"strings"
	"time"
)

// Limits of the request-handling settings, as the reference documents them.
const (
	MaxAttemptsLimit = 5
	RetryDelayLimit  = 5000 * time.Millisecond
)

// Backoff is how the wait grows between retries.
type Backoff string

const (
	BackoffConstant    Backoff = "constant"    // delay, delay, delay
	BackoffLinear      Backoff = "linear"      // delay, 2×delay, 3×delay
	BackoffExponential Backoff = "exponential" // delay, 2×delay, 4×delay
)

// DefaultRetryDelay is the wait between retries when retries are asked for without a
// delay anywhere: the smallest delay the hosted dashboard offers.
const DefaultRetryDelay = 100 * time.Millisecond

// RetryPolicy is the request handling in force for one step.
type RetryPolicy struct {
	MaxAttempts int           // tries of this step, 1 to 5
	Delay       time.Duration // base wait before a retry
	Backoff     Backoff
	Timeout     time.Duration // to the first byte of the answer; 0 waits as long as the upstream client allows
	// Strict keeps Timeout on the last try too (a dynamic route's model node: its
	// fallback runs on timeout), where the reference otherwise waits without limit.
	Strict bool
	// MaxWait, when set, caps each wait between tries (a route's model node allows more
	// tries than a request's retries, so an exponential backoff would grow for hours).
	MaxWait time.Duration
}

// Wait is the pause after the n-th failed try (n ≥ 1) before the next one.
func (p RetryPolicy) Wait(n int) time.Duration {
	var d time.Duration
	switch p.Backoff {
	case BackoffLinear:
		d = p.Delay * time.Duration(n)
	case BackoffExponential:
		d = p.Delay << (n - 1)
	default:
		d = p.Delay
	}
	if p.MaxWait > 0 && d > p.MaxWait {
		d = p.MaxWait
	}
	return d
}

// RetrySettings is one layer of request-handling settings; nil fields are not set there.
type RetrySettings struct {
	TimeoutMs   *int64
	MaxAttempts *int64
	DelayMs     *int64
	Backoff     *string
}

// Over returns s with its unset fields taken from lower.
func (s RetrySettings) Over(lower RetrySettings) RetrySettings {
	if s.TimeoutMs == nil {
		s.TimeoutMs = lower.TimeoutMs
	}
	if s.MaxAttempts == nil {
		s.MaxAttempts = lower.MaxAttempts
	}
	if s.DelayMs == nil {
		s.DelayMs = lower.DelayMs
	}
	if s.Backoff == nil {
		s.Backoff = lower.Backoff
	}
	return s
}

// Policy turns validated settings into the policy in force.
func (s RetrySettings) Policy() RetryPolicy {
	p := RetryPolicy{MaxAttempts: 1, Delay: DefaultRetryDelay, Backoff: BackoffConstant}
	if s.MaxAttempts != nil {
		p.MaxAttempts = int(*s.MaxAttempts)
	}
	if s.DelayMs != nil {
		p.Delay = time.Duration(*s.DelayMs) * time.Millisecond
	}
	if s.Backoff != nil {
		p.Backoff = Backoff(*s.Backoff)
	}
	if s.TimeoutMs != nil {
		p.Timeout = time.Duration(*s.TimeoutMs) * time.Millisecond
	}
	return p
}

// The request-handling headers.
const (
	HeaderRequestTimeout = "cf-aig-request-timeout"
	HeaderMaxAttempts    = "cf-aig-max-attempts"
	HeaderRetryDelay     = "cf-aig-retry-delay"
	HeaderBackoff        = "cf-aig-backoff"
)

// settingNames are where the four settings are read from: header names or config fields.
type settingNames struct{ timeout, attempts, delay, backoff string }

var (
	headerNames = settingNames{HeaderRequestTimeout, HeaderMaxAttempts, HeaderRetryDelay, HeaderBackoff}
	configNames = settingNames{"requestTimeout", "maxAttempts", "retryDelay", "backoff"}
)

// RetryHeaders reads a layer from cf-aig-* headers (get returns "" for an absent header).
// A malformed value is a 400 naming the header, after prefix (where the headers were).
func RetryHeaders(prefix string, get func(name string) string) (RetrySettings, *GatewayError) {
	return readSettings(prefix, headerNames, func(name string) (string, bool) {
		v := strings.TrimSpace(get(name))
		return v, v != ""
	})
}

// StepConfig is a universal step's "config" object as sent.
type StepConfig struct {
	RequestTimeout *float64 `json:"requestTimeout"`
	MaxAttempts    *float64 `json:"maxAttempts"`
	RetryDelay     *float64 `json:"retryDelay"`
	Backoff        *string  `json:"backoff"`
}

// Settings validates a step's config; field names errors as prefix + ".requestTimeout" etc.
func (c StepConfig) Settings(prefix string) (RetrySettings, *GatewayError) {
	vals := map[string]*string{configNames.backoff: c.Backoff}
	for name, v := range map[string]*float64{configNames.timeout: c.RequestTimeout, configNames.attempts: c.MaxAttempts, configNames.delay: c.RetryDelay} {
		if v != nil {
			f := strconv.FormatFloat(*v, 'f', -1, 64) // 2.5 stays "2.5" and fails as a non-integer
			vals[name] = &f
		}
	}
	return readSettings(prefix+".", configNames, func(name string) (string, bool) {
		if v := vals[name]; v != nil {
			return *v, true
		}
		return "", false
	})
}

// readSettings reads and checks the four settings; get reports a value and whether it
// was given at all.
func readSettings(prefix string, names settingNames, get func(name string) (string, bool)) (RetrySettings, *GatewayError) {
	var s RetrySettings
	var fail *GatewayError
	num := func(name string, min, max int64) *int64 {
		v, ok := get(name)
		if !ok || fail != nil {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min || n > max {
			fail = rangeError(prefix+name, min, max)
			return nil
		}
		return &n
	}
	s.TimeoutMs = num(names.timeout, 1, maxTimeoutMs)
	s.MaxAttempts = num(names.attempts, 1, MaxAttemptsLimit)
	s.DelayMs = num(names.delay, 0, RetryDelayLimit.Milliseconds())
	if v, ok := get(names.backoff); ok && fail == nil {
		if !validBackoff(v) {
			return s, backoffError(prefix + names.backoff)
		}
		s.Backoff = &v
	}
	return s, fail
}

// maxTimeoutMs bounds a request timeout at one hour.
const maxTimeoutMs = 3_600_000

func validBackoff(v string) bool {
	switch Backoff(v) {
	case BackoffConstant, BackoffLinear, BackoffExponential:
		return true
	}
	return false
}

func rangeError(field string, min, max int64) *GatewayError {
	return Errorf(400, CodeBadRequest, field+" must be an integer from "+strconv.FormatInt(min, 10)+" to "+strconv.FormatInt(max, 10))
}

func backoffError(field string) *GatewayError {
	return Errorf(400, CodeBadRequest, field+` must be one of "constant", "linear", "exponential"`)
}

// Retryable reports whether an answer with this status is worth the same request again:
// request timeout (408), rate limited (429) and every server error (5xx).
func Retryable(status int) bool {
	return status == 408 || status == 429 || status >= 500
}

// Failed reports whether an answer with this status fails its step, so the next step
// of a universal request is tried: every error status (4xx and 5xx). 1xx-3xx answer.
func Failed(status int) bool { return status >= 400 }
