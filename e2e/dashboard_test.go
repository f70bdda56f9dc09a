// dashboard_test.go drives the dashboard in headless Chromium (Debian's chromium, which
// .ci/run installs) against `switchyard demo` and its mock providers: sign in with the
// admin token, create a gateway, see a validation error on a setting and fix it, send a
// streamed chat from the playground, open its log, give it a thumbs up (checked through the
// API), see it in the analytics totals and chart, create a dynamic route in the editor (a
// problem shown on its element, then fixed), deploy a second version and roll it back, use
// the route from the playground, then sign in with a read token and find
// nothing to edit. It takes a screenshot of each screen; with SWITCHYARD_SCREENSHOTS=dir they
// are written there (docs/screenshots holds the README's).
package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

func TestDashboardInBrowser(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Fatal("chromium is needed (.ci/run installs Debian's chromium)")
	}
	d := startDemo(t)
	tok, err := os.ReadFile(filepath.Join(d.Dir, "switchyard-demo-data", "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(tok))
	shots := os.Getenv("SWITCHYARD_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1366, 900),
		chromedp.UserDataDir(t.TempDir()))...)
	defer cancel()
	browserCtx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancel()

	// The first Run starts the browser and must not have a timeout (chromedp.Run's rule).
	if err := chromedp.Do(browserCtx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(browserCtx, 3*time.Minute)
	defer cancel()
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage: %.9000s", what, err, page)
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			// A viewport as tall as the page, from the top: Chromium leaves scrolling boxes
			// below the viewport unpainted in a full-page capture, and the sticky header
			// belongs at the top.
			h, err := chromedp.Evaluate[int64](`window.scrollTo(0, 0), document.documentElement.scrollHeight`)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			if _, err := chromedp.EmulateViewport(1366, max(h, 900))(ctx, tg); err != nil {
				return chromedp.Void{}, err
			}
			defer chromedp.EmulateViewport(1366, 900)(ctx, tg)
			png, err := chromedp.FullScreenshot(100)(ctx, tg) // quality 100 is a PNG (lower, a JPEG)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		}
	}
	// poll waits until a JavaScript expression is true.
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
	}
	// waitText waits until the element sel holds text.
	waitText := func(sel, text string) chromedp.Action[chromedp.Void] {
		return poll(`(() => { const e = document.querySelector(` + jsString(sel) + `); return !!e && e.textContent.includes(` + jsString(text) + `); })()`)
	}
	// eval runs JavaScript for its effect.
	eval := func(expr string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[any](expr)(ctx, tg)
			return chromedp.Void{}, err
		}
	}
	// setInput types v into the input sel the way a user's edit arrives (an input event).
	setInput := func(sel, v string) chromedp.Action[chromedp.Void] {
		return eval(`(() => { const e = document.querySelector(` + jsString(sel) + `); e.value = ` + jsString(v) + `; e.dispatchEvent(new Event('input', {bubbles: true})); })()`)
	}
	signIn := func(token string) {
		t.Helper()
		step("sign in",
			chromedp.Navigate(d.URL+"/dashboard/"),
			chromedp.WaitVisible(chromedp.CSS(`input[name=account]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=account]`), "demo"),
			chromedp.SendKeys(chromedp.CSS(`input[name=token]`), token),
			chromedp.Click(chromedp.CSS(`form button.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`header.top nav`)),
		)
	}

	signIn(admin)
	step("gateways list", waitText(`table`, "demo"), shot("gateways"))

	step("create a gateway",
		chromedp.SendKeys(chromedp.CSS(`input[name=gateway-id]`), "browser"),
		chromedp.Click(chromedp.CSS(`form[aria-label="create a gateway"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="gateway settings"]`)),
	)
	step("a setting the API refuses shows the API's message on its field",
		setInput(`input[name=cache_ttl]`, "-5"),
		chromedp.Click(chromedp.CSS(`form[aria-label="gateway settings"] button.primary`)),
		waitText(`form[aria-label="gateway settings"] .field-error`, "cache_ttl"),
	)
	step("an OpenTelemetry exporter the API refuses shows its message in that section",
		setInput(`input[name=cache_ttl]`, "60"),
		eval(`(() => { const s = document.querySelector('select[name=guard-prompt-S1]'); s.value = 'BLOCK'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		eval(`[...document.querySelectorAll('section[aria-label=OpenTelemetry] button')].find((b) => b.textContent.includes('Add')).click()`),
		chromedp.WaitVisible(chromedp.CSS(`input[name=otel-0-url]`)),
		setInput(`input[name=otel-0-url]`, "collector:4318"),
		setInput(`textarea[name=otel-0-headers]`, "x-team: search"),
		chromedp.Click(chromedp.CSS(`form[aria-label="gateway settings"] button.primary`)),
		waitText(`section[aria-label=OpenTelemetry] .field-error`, "otel[0].url must be an absolute http or https URL"),
	)
	step("a spend rule the API refuses shows its message in that section",
		setInput(`input[name=otel-0-url]`, "http://127.0.0.1:4318/v1/traces"),
		eval(`[...document.querySelectorAll('section[aria-label="Spend limits"] button')].find((b) => b.textContent.includes('Add')).click()`),
		chromedp.WaitVisible(chromedp.CSS(`input[name=spend-0-limit]`)),
		setInput(`input[name=spend-0-limit]`, "-5"),
		chromedp.Click(chromedp.CSS(`form[aria-label="gateway settings"] button.primary`)),
		waitText(`section[aria-label="Spend limits"] .field-error`, "spend_limits"),
	)
	step("a DLP policy with a profile, and the rule fixed: it saves",
		setInput(`input[name=spend-0-limit]`, "5"),
		eval(`[...document.querySelectorAll('section[aria-label=DLP] button')].find((b) => b.textContent.includes('Add')).click()`),
		poll(`document.querySelectorAll('select[name=dlp-0-profiles] option').length > 0`),
		eval(`(() => { const s = document.querySelector('select[name=dlp-0-profiles]'); s.options[0].selected = true; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		chromedp.Click(chromedp.CSS(`form[aria-label="gateway settings"] button.primary`)),
		waitText(`[role=status]`, "Saved."),
		shot("gateway-settings"),
	)
	var g struct {
		Result struct {
			DLP struct {
				Enabled  bool `json:"enabled"`
				Policies []struct {
					Action   string   `json:"action"`
					Profiles []string `json:"profiles"`
					Check    []string `json:"check"`
				} `json:"policies"`
			} `json:"dlp"`
			SpendLimits struct {
				Enabled bool `json:"enabled"`
				Rules   []struct {
					Limit  float64 `json:"limit"`
					Window int     `json:"window"`
				} `json:"rules"`
			} `json:"spend_limits"`
			CacheTTL   int `json:"cache_ttl"`
			Guardrails struct {
				Prompt map[string]string `json:"prompt"`
			} `json:"guardrails"`
			Otel []struct {
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers"`
			} `json:"otel"`
		} `json:"result"`
	}
	controlGet(t, d.URL+"/client/v4/accounts/demo/ai-gateway/gateways/browser", admin, &g)
	if r := g.Result; r.CacheTTL != 60 || r.Guardrails.Prompt["S1"] != "BLOCK" || len(r.Otel) != 1 ||
		r.Otel[0].URL != "http://127.0.0.1:4318/v1/traces" || r.Otel[0].Headers["x-team"] != "search" {
		t.Fatalf("the saved settings: %+v", r)
	}
	if d, s := g.Result.DLP, g.Result.SpendLimits; !d.Enabled || len(d.Policies) != 1 || d.Policies[0].Action != "FLAG" ||
		len(d.Policies[0].Profiles) != 1 || len(d.Policies[0].Check) != 2 || !s.Enabled || len(s.Rules) != 1 || s.Rules[0].Limit != 5 || s.Rules[0].Window != 86400 {
		t.Fatalf("the saved DLP and spend limits: %+v %+v", d, s)
	}
	// Both back off for the rest of the run: blocking S1 needs the guard model (workers-ai),
	// which the demo does not mock, and no collector listens on that port.
	step("guardrails back to ignore",
		eval(`(() => { const s = document.querySelector('select[name=guard-prompt-S1]'); s.value = 'IGNORE'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		eval(`[...document.querySelectorAll('section[aria-label=OpenTelemetry] button')].find((b) => b.textContent.includes('Remove')).click()`),
		chromedp.Click(chromedp.CSS(`form[aria-label="gateway settings"] button.primary`)),
		waitText(`[role=status]`, "Saved."),
	)

	step("a streamed chat from the playground",
		chromedp.Navigate(d.URL+"/dashboard/#/playground"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label=playground]`)),
		poll(`document.querySelectorAll('select[aria-label=gateway] option').length >= 2`),
		eval(`(() => { const s = document.querySelector('select[aria-label=gateway]'); s.value = 'browser'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		chromedp.SendKeys(chromedp.CSS(`input[name=key]`), "sk-demo"),
		chromedp.Click(chromedp.CSS(`form[aria-label=playground] button.primary`)),
		waitText(`[data-answer]`, "mock upstream"),
		chromedp.WaitVisible(chromedp.CSS(`[data-log-link]`)),
		shot("playground"),
	)
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-log-link]`), "href"))
	if err != nil {
		t.Fatal(err)
	}
	logID := href.Value[strings.LastIndex(href.Value, "/")+1:]
	step("its log, with the answer, and a thumbs up",
		chromedp.Click(chromedp.CSS(`[data-log-link]`)),
		waitText(`[data-response]`, "mock upstream"),
		waitText(`table[aria-label=logs]`, "gpt-4o-mini"),
		chromedp.Click(chromedp.CSS(`button[aria-label="thumbs up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-feedback="1"]`)),
		shot("logs"),
	)
	step("a filter the logs API refuses shows its message on that field, then a good one",
		chromedp.Click(chromedp.CSS(`details.more-filters summary`)),
		setInput(`input[name=min_duration]`, "soon"),
		chromedp.Click(chromedp.CSS(`form[role=search] button.primary`)),
		waitText(`details.more-filters .field-error`, "min_duration"),
		setInput(`input[name=min_duration]`, "0"),
		setInput(`input[name=max_total_tokens]`, "100000"),
		chromedp.Click(chromedp.CSS(`form[role=search] button.primary`)),
		waitText(`table[aria-label=logs]`, "gpt-4o-mini"),
		poll(`!document.querySelector('details.more-filters .field-error')`),
	)
	var l struct {
		Result struct {
			Feedback int `json:"feedback"`
		} `json:"result"`
	}
	controlGet(t, d.URL+"/client/v4/accounts/demo/ai-gateway/gateways/browser/logs/"+logID, admin, &l)
	if l.Result.Feedback != 1 {
		t.Fatalf("feedback through the API: %d, want 1", l.Result.Feedback)
	}
	step("analytics counts it and draws the chart",
		chromedp.Navigate(d.URL+"/dashboard/#/analytics/browser"),
		waitText(`[data-total=requests]`, "1"),
		chromedp.WaitVisible(chromedp.CSS(`.chart canvas`)),
	)

	// A route in the editor: a dangling output is shown on its element, then fixed, created,
	// changed in a second version, rolled back, and used from the playground.
	step("a new route with a problem shows it on its element",
		chromedp.Navigate(d.URL+"/dashboard/#/routes/browser"),
		chromedp.WaitVisible(chromedp.CSS(`a.button.primary`)),
		chromedp.Click(chromedp.CSS(`a.button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name=elements]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=route-name]`), "assist"),
		setInput(`textarea[name=elements]`, routeJSON("gpt-4o-mini", "finish")),
		chromedp.WaitVisible(chromedp.CSS(`[data-valid=false]`)),
		chromedp.WaitVisible(chromedp.CSS(`g.node.has-problem[data-element=model]`)),
		chromedp.WaitVisible(chromedp.CSS(`g.node.missing`)),
		waitText(`ul.problems`, `element "model"`),
		shot("route-problem"),
	)
	step("the keyboard reaches an element's JSON from its node",
		eval(`document.querySelector('g.node[data-element=model]').focus()`),
		chromedp.KeyEvent("\r"),
		poll(`(() => { const a = document.activeElement; return a.name === 'elements' && a.value.slice(a.selectionStart, a.selectionEnd).includes('"model"'); })()`),
	)
	step("fixed, it is created and deployed",
		setInput(`textarea[name=elements]`, routeJSON("gpt-4o-mini", "end")),
		chromedp.WaitVisible(chromedp.CSS(`[data-valid=true]`)),
		chromedp.Click(chromedp.CSS(`.editor button.primary`)),
		waitText(`table[aria-label=versions]`, "deployed"),
	)
	step("a second version, deployed, then rolled back",
		setInput(`textarea[name=elements]`, routeJSON("gpt-4o", "end")),
		chromedp.WaitVisible(chromedp.CSS(`[data-valid=true]`)),
		chromedp.Click(chromedp.CSS(`.editor button.primary`)),
		waitText(`p.ok[role=status]`, "saved and deployed"),
		poll(`document.querySelectorAll('table[aria-label=versions] tbody tr').length === 2`),
		waitText(`table[aria-label=versions] tbody tr:nth-child(2)`, "Roll back to this"),
		chromedp.Click(chromedp.CSS(`table[aria-label=versions] tbody tr:nth-child(2) button:nth-of-type(2)`)),

		waitText(`table[aria-label=versions] tbody tr:nth-child(2)`, "deployed"),
		waitText(`.compare`, "gpt-4o"),
		shot("routes"),
	)
	var routes struct {
		Result []struct {
			Name    string `json:"name"`
			Version struct {
				VersionID string `json:"version_id"`
				Data      string `json:"data"`
			} `json:"version"`
		} `json:"result"`
	}
	controlGet(t, d.URL+"/client/v4/accounts/demo/ai-gateway/gateways/browser/routes", admin, &routes)
	if len(routes.Result) != 1 || !strings.Contains(routes.Result[0].Version.Data, `"gpt-4o-mini"`) {
		t.Fatalf("after the rollback the API answers %+v", routes.Result)
	}
	step("the route from the playground",
		chromedp.Navigate(d.URL+"/dashboard/#/playground"),
		poll(`document.querySelectorAll('select[aria-label=gateway] option').length >= 2`),
		eval(`(() => { const s = document.querySelector('select[aria-label=gateway]'); s.value = 'browser'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		eval(`(() => { const s = document.querySelector('select[name=mode]'); s.value = 'route'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		poll(`!!document.querySelector('#route-names option[value=assist]')`), // the gateway's routes are offered
		setInput(`input[name=model]`, "assist"),
		setInput(`input[name=key]`, "sk-demo"),
		chromedp.Click(chromedp.CSS(`form[aria-label=playground] button.primary`)),
		waitText(`[data-answer]`, "mock upstream"),
		waitText(`[role=status]`, "openai/gpt-4o-mini · route assist version "+routes.Result[0].Version.VersionID),
	)
	step("its log shows the route's nodes and the headers the gateway set",
		chromedp.Click(chromedp.CSS(`[data-log-link]`)),
		waitText(`ol[aria-label="route nodes"]`, "model"),
		waitText(`dl.headers`, "cf-aig-route-version"),
		waitText(`dl.headers`, routes.Result[0].Version.VersionID),
		shot("log-detail"),
	)

	// Dark mode follows the system's preference.
	colorScheme := func(v string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
			return chromedp.Void{}, err
		}
	}
	step("dark mode when the system prefers it",
		colorScheme("dark"),
		poll(`getComputedStyle(document.body).backgroundColor === 'rgb(21, 22, 26)'`),
		shot("dark-mode"),
		colorScheme("light"),
		poll(`getComputedStyle(document.body).backgroundColor === 'rgb(247, 247, 248)'`),
	)

	// More traffic, two models, for a chart grouped by model.
	for i := range 12 {
		demoChat(t, d.URL+"/v1/demo/browser", []string{"gpt-4o-mini", "gpt-4o"}[i%2], "hi")
	}
	step("analytics grouped by model over the last hour",
		chromedp.Navigate(d.URL+"/dashboard/#/analytics/browser"),
		chromedp.WaitVisible(chromedp.CSS(`select[aria-label=range]`)),
		eval(`(() => { for (const [s, v] of [['range', '1h'], ['group by', 'model']]) { const e = document.querySelector('select[aria-label="' + s + '"]'); e.value = v; e.dispatchEvent(new Event('change', {bubbles: true})); } })()`),
		waitText(`[data-total=requests]`, "14"),
		waitText(`.u-legend`, "gpt-4o-mini"),
		shot("analytics"),
	)
	step("a provider key is stored and only its preview shown",
		chromedp.Navigate(d.URL+"/dashboard/#/keys/browser"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="store a provider key"]`)),
		setInput(`input[name=alias]`, "main"),
		setInput(`input[name=secret]`, "sk-stored-0123456789"),
		chromedp.Click(chromedp.CSS(`form[aria-label="store a provider key"] button.primary`)),
		waitText(`table[aria-label="provider keys"]`, "main"),
		poll(`!document.body.innerHTML.includes('sk-stored-0123456789')`),
		shot("provider-keys"),
	)
	step("a custom provider: the API's message on a bad base URL, then added",
		chromedp.Navigate(d.URL+"/dashboard/#/custom-providers"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="add a custom provider"]`)),
		setInput(`input[name=name]`, "Local LLM"),
		setInput(`input[name=slug]`, "local-llm"),
		setInput(`input[name=base_url]`, "http://llm.internal"),
		chromedp.Click(chromedp.CSS(`form[aria-label="add a custom provider"] button.primary`)),
		waitText(`form[aria-label="add a custom provider"] .field-error`, "https://"),
		setInput(`input[name=base_url]`, "https://llm.internal/v1"),
		chromedp.Click(chromedp.CSS(`form[aria-label="add a custom provider"] button.primary`)),
		waitText(`table[aria-label="custom providers"]`, "custom-local-llm"),
		shot("custom-providers"),
	)
	step("a dataset and an evaluation with its results",
		chromedp.Navigate(d.URL+"/dashboard/#/evaluations/browser"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="create a dataset"]`)),
		setInput(`input[name=dataset-name]`, "mini"),
		setInput(`input[name=dataset-value]`, "gpt-4o-mini"),
		chromedp.Click(chromedp.CSS(`form[aria-label="create a dataset"] button.primary`)),
		waitText(`table[aria-label=datasets]`, `model eq "gpt-4o-mini"`),
		chromedp.WaitVisible(chromedp.CSS(`input[name=evaluation-dataset-mini]`)),
		setInput(`input[name=evaluation-name]`, "first look"),
		chromedp.Click(chromedp.CSS(`input[name=evaluation-dataset-mini]`)),
		chromedp.Click(chromedp.CSS(`form[aria-label="run an evaluation"] button.primary`)),
		waitText(`section.evaluation [data-result=speed]`, "p95_ms"),
		waitText(`section.evaluation`, "logs"),
		shot("evaluations"),
	)
	step("a read token from the tokens screen, its value shown once",
		chromedp.Navigate(d.URL+"/dashboard/#/tokens"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="create a token"]`)),
		setInput(`input[name=token-name]`, "viewer"),
		chromedp.Click(chromedp.CSS(`form[aria-label="create a token"] button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-token-value]`)),
		shot("tokens"),
	)
	viewer, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-token-value]').textContent`))
	if err != nil || !strings.HasPrefix(viewer, "syt_") {
		t.Fatalf("the new token's value: %q %v", viewer, err)
	}
	step("once dismissed, the value is gone from the page",
		eval(`[...document.querySelectorAll('.fresh-token button')].find((b) => b.textContent.includes('copied')).click()`),
		poll(`!document.querySelector('[data-token-value]') && !document.body.innerHTML.includes(`+jsString(viewer)+`)`),
		waitText(`table[aria-label=tokens]`, "viewer"),
	)
	step("the audit log lists the changes, each with before and after",
		chromedp.Navigate(d.URL+"/dashboard/#/audit"),
		waitText(`table[aria-label="audit log"]`, "custom_provider"),
		chromedp.Click(chromedp.CSS(`table[aria-label="audit log"] tbody tr`)),
		chromedp.WaitVisible(chromedp.CSS(`[aria-label=change]`)),
		shot("audit-log"),
	)

	// A spend rule scoped to a metadata value, set through the API: the API's answer leaves
	// the scope out (cloudflare-go cannot decode it), so a settings save that sent the rules
	// back would make the rule gateway-wide. The section is read-only, and saving another
	// setting keeps the rule as stored.
	controlDo(t, "PATCH", d.URL+"/client/v4/accounts/demo/ai-gateway/gateways/browser", admin,
		`{"spend_limits":{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":86400,"metadata":{"team":{"mode":"partition"}}}]}}`, &struct{}{})
	step("a settings save leaves a scoped spend rule alone",
		chromedp.Navigate(d.URL+"/dashboard/#/gateways/browser"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=spend-0-limit]`)),

		poll(`document.querySelector('input[name=spend-0-limit]').matches(':disabled')`), // read-only: its scope is not in the answer
		waitText(`section[aria-label="Spend limits"] [role=note]`, "metadata"),
		setInput(`input[name=cache_ttl]`, "120"),
		chromedp.Click(chromedp.CSS(`form[aria-label="gateway settings"] button.primary`)),
		waitText(`[role=status]`, "Saved."),
	)
	var audit struct {
		Result []struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
			New struct {
				CacheTTL    int             `json:"cache_ttl"`
				SpendLimits json.RawMessage `json:"spend_limits"`
			} `json:"newValueJson"`
		} `json:"result"`
	}
	controlGet(t, d.URL+"/client/v4/accounts/demo/audit_logs?resource.type=gateway&resource.id=browser", admin, &audit)
	if len(audit.Result) == 0 || audit.Result[0].New.CacheTTL != 120 || !strings.Contains(string(audit.Result[0].New.SpendLimits), `"partition"`) {
		t.Fatalf("after the save the stored gateway is %+v", audit.Result)
	}
	step("a second default key for the same provider: the API's refusal on its field",
		chromedp.Navigate(d.URL+"/dashboard/#/keys/browser"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="store a provider key"]`)),
		setInput(`input[name=secret]`, "sk-second-0123456789"),
		chromedp.Click(chromedp.CSS(`form[aria-label="store a provider key"] button.primary`)),
		waitText(`form[aria-label="store a provider key"] .field-error`, "default"),
	)

	// A read token sees the settings but no button to change them, and no create form.
	step("sign out", chromedp.Click(chromedp.CSS(`header.top button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)))
	signIn(viewer)
	step("read token: the gateways list", waitText(`table`, "browser"))
	creates, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('form[aria-label="create a gateway"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	step("read token: the settings",
		chromedp.Navigate(d.URL+"/dashboard/#/gateways/browser"),
		chromedp.WaitVisible(chromedp.CSS(`form[aria-label="gateway settings"]`)),
		waitText(`form[aria-label="gateway settings"]`, "may read this gateway but not change it"),
	)
	saves, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('form[aria-label="gateway settings"] button.primary').length`))
	if err != nil {
		t.Fatal(err)
	}
	if creates != 0 || saves != 0 {
		t.Fatalf("a read token sees %d create forms and %d save buttons", creates, saves)
	}
	// Nor anything to change on the other screens, and no admin screen in the navigation.
	for _, screen := range []struct{ hash, ready, forbidden string }{
		{"#/routes/browser", `table[aria-label=routes]`, `a.button.primary`},
		{"#/keys/browser", `table[aria-label="provider keys"]`, `form, button.danger`},
		{"#/custom-providers", `table[aria-label="custom providers"]`, `form, button.danger, tbody button`},
		{"#/evaluations/browser", `table[aria-label=datasets]`, `form, button.danger`},
		{"#/logs/browser", `table[aria-label=logs]`, `button.danger`},
	} {
		step("read token: "+screen.hash,
			chromedp.Navigate(d.URL+"/dashboard/"+screen.hash),
			chromedp.WaitVisible(chromedp.CSS(screen.ready)),
			poll(`document.querySelectorAll(`+jsString(`main `+strings.ReplaceAll(screen.forbidden, ", ", ", main "))+`).length === 0`),
		)
	}
	step("read token: the route editor is read-only",
		chromedp.Navigate(d.URL+"/dashboard/#/routes/browser"),
		waitText(`table[aria-label=routes]`, "assist"),
		chromedp.Click(chromedp.CSS(`table[aria-label=routes] a`)),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name=elements][readonly]`)),
		poll(`document.querySelectorAll('main .editor button, table[aria-label=versions] button').length === document.querySelectorAll('table[aria-label=versions] tbody tr').length`),
		poll(`![...document.querySelectorAll('header.top nav a')].some((a) => /tokens|audit/.test(a.getAttribute('href')))`),
	)
}

// routeJSON is a route graph start → model (openai/model) → then, as the editor's JSON.
func routeJSON(model, then string) string {
	b, _ := json.MarshalIndent([]map[string]any{
		{"id": "start", "type": "start", "outputs": map[string]any{"next": map[string]string{"elementId": "model"}}},
		{"id": "model", "type": "model", "properties": map[string]any{"provider": "openai", "model": model, "timeout": 60000, "retries": 0},
			"outputs": map[string]any{"success": map[string]string{"elementId": then}}},
		{"id": "end", "type": "end"},
	}, "", "  ")
	return string(b)
}

// demoChat sends one chat completion through a demo gateway's OpenAI path (base is
// .../v1/{account}/{gateway}) and requires a 200.
func demoChat(t *testing.T, base, model, content string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": content}}})
	req, _ := http.NewRequest("POST", base+"/openai/chat/completions", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer sk-demo")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("chat through %s: %d", base, resp.StatusCode)
	}
}

// jsString quotes s for JavaScript source.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func controlGet(t *testing.T, url, token string, v any) {
	t.Helper()
	controlDo(t, "GET", url, token, "", v)
}

func controlDo(t *testing.T, method, url, token, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
