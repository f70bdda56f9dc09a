package engine

import (
	"strings"
	"testing"
	"time"
)

func TestRetryWait(t *testing.T) {
	cases := []struct {
		backoff Backoff
		want    []time.Duration // waits after try 1, 2, 3, 4
	}{
		{BackoffConstant, []time.Duration{100, 100, 100, 100}},
		{BackoffLinear, []time.Duration{100, 200, 300, 400}},
		{BackoffExponential, []time.Duration{100, 200, 400, 800}},
	}
	for _, tc := range cases {
		p := RetryPolicy{MaxAttempts: 5, Delay: 100, Backoff: tc.backoff}
		for i, w := range tc.want {
			if got := p.Wait(i + 1); got != w {
				t.Errorf("%s wait after try %d = %v, want %v", tc.backoff, i+1, got, w)
			}
		}
	}
}

func headers(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestRetryHeaders(t *testing.T) {
	cases := []struct {
		name string
		get  func(string) string
		want RetryPolicy
		err  string
	}{
		{"none", headers(), RetryPolicy{MaxAttempts: 1, Delay: DefaultRetryDelay, Backoff: BackoffConstant}, ""},
		{"all", headers(HeaderRequestTimeout, "1500", HeaderMaxAttempts, "3", HeaderRetryDelay, "250", HeaderBackoff, "linear"),
			RetryPolicy{MaxAttempts: 3, Delay: 250 * time.Millisecond, Backoff: BackoffLinear, Timeout: 1500 * time.Millisecond}, ""},
		{"zero delay", headers(HeaderRetryDelay, "0"), RetryPolicy{MaxAttempts: 1, Backoff: BackoffConstant}, ""},
		{"six attempts", headers(HeaderMaxAttempts, "6"), RetryPolicy{}, "cf-aig-max-attempts must be an integer from 1 to 5"},
		{"zero attempts", headers(HeaderMaxAttempts, "0"), RetryPolicy{}, "cf-aig-max-attempts must be"},
		{"delay too long", headers(HeaderRetryDelay, "5001"), RetryPolicy{}, "cf-aig-retry-delay must be an integer from 0 to 5000"},
		{"timeout not a number", headers(HeaderRequestTimeout, "1s"), RetryPolicy{}, "cf-aig-request-timeout must be"},
		{"zero timeout", headers(HeaderRequestTimeout, "0"), RetryPolicy{}, "cf-aig-request-timeout must be"},
		{"bad backoff", headers(HeaderBackoff, "fibonacci"), RetryPolicy{}, `cf-aig-backoff must be one of "constant", "linear", "exponential"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, fail := RetryHeaders("", tc.get)
			if tc.err != "" {
				if fail == nil || fail.Status != 400 || !strings.Contains(fail.Message, tc.err) {
					t.Fatalf("got %v, want 400 %q", fail, tc.err)
				}
				return
			}
			if fail != nil {
				t.Fatal(fail)
			}
			if got := s.Policy(); got != tc.want {
				t.Fatalf("policy %+v, want %+v", got, tc.want)
			}
		})
	}
}

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }
func str(v string) *string   { return &v }

func TestStepConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  StepConfig
		err  string
	}{
		{"valid", StepConfig{RequestTimeout: f64(1000), MaxAttempts: f64(5), RetryDelay: f64(5000), Backoff: str("exponential")}, ""},
		{"fractional attempts", StepConfig{MaxAttempts: f64(2.5)}, "[0].config.maxAttempts must be an integer from 1 to 5"},
		{"attempts over 5", StepConfig{MaxAttempts: f64(6)}, "[0].config.maxAttempts"},
		{"negative delay", StepConfig{RetryDelay: f64(-1)}, "[0].config.retryDelay must be an integer from 0 to 5000"},
		{"delay over 5s", StepConfig{RetryDelay: f64(5001)}, "[0].config.retryDelay"},
		{"zero timeout", StepConfig{RequestTimeout: f64(0)}, "[0].config.requestTimeout"},
		{"bad backoff", StepConfig{Backoff: str("random")}, "[0].config.backoff must be one of"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, fail := tc.cfg.Settings("[0].config")
			switch {
			case tc.err == "" && fail != nil:
				t.Fatal(fail)
			case tc.err != "" && (fail == nil || !strings.Contains(fail.Message, tc.err)):
				t.Fatalf("got %v, want %q", fail, tc.err)
			}
		})
	}
}

// The hierarchy: a step's config over its headers over the request's headers over the
// gateway's settings, field by field.
func TestRetryLayers(t *testing.T) {
	gateway := RetrySettings{MaxAttempts: i64(4), DelayMs: i64(2000), Backoff: str("exponential")}
	request := RetrySettings{DelayMs: i64(500), TimeoutMs: i64(9000)}
	stepHeaders := RetrySettings{TimeoutMs: i64(3000), MaxAttempts: i64(2)}
	stepConfig := RetrySettings{MaxAttempts: i64(3)}
	got := stepConfig.Over(stepHeaders).Over(request.Over(gateway)).Policy()
	want := RetryPolicy{MaxAttempts: 3, Delay: 500 * time.Millisecond, Backoff: BackoffExponential, Timeout: 3 * time.Second}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := request.Over(gateway).Policy(); got.MaxAttempts != 4 || got.Delay != 500*time.Millisecond || got.Timeout != 9*time.Second {
		t.Fatalf("request over gateway: %+v", got)
	}
}

func TestFailureRules(t *testing.T) {
	for _, tc := range []struct {
		status          int
		failed, retried bool
	}{
		{200, false, false}, {204, false, false}, {304, false, false},
		{400, true, false}, {401, true, false}, {404, true, false}, {422, true, false},
		{408, true, true}, {429, true, true}, {500, true, true}, {502, true, true}, {503, true, true}, {529, true, true},
	} {
		if Failed(tc.status) != tc.failed || Retryable(tc.status) != tc.retried {
			t.Errorf("%d: failed=%v retried=%v", tc.status, Failed(tc.status), Retryable(tc.status))
		}
	}
}

func TestRetryWaitCap(t *testing.T) {
	p := RetryPolicy{Delay: 5 * time.Second, Backoff: BackoffExponential, MaxWait: RetryDelayLimit}
	for n, want := range map[int]time.Duration{1: 5 * time.Second, 2: 5 * time.Second, 10: 5 * time.Second} {
		if got := p.Wait(n); got != want {
			t.Fatalf("wait %d: %v, want %v", n, got, want)
		}
	}
	p.MaxWait = 0
	if got := p.Wait(3); got != 20*time.Second {
		t.Fatalf("uncapped wait 3: %v", got)
	}
}
