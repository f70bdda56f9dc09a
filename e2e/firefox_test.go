// firefox_test.go drives the dashboard in headless Firefox (Debian's firefox-esr, which
// .ci/run installs) over WebDriver BiDi, the protocol Firefox speaks natively: sign in from
// the keyboard (Tab and Enter only), move through the navigation with the keyboard, see a
// route's problem drawn on its element, a log in the live list and its detail, and the
// analytics chart. chromedp covers every screen in Chromium (dashboard_test.go); this checks
// that the same page works in the other engine.
package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// bidi is a WebDriver BiDi session on one browsing context.
type bidi struct {
	conn    *websocket.Conn
	next    int
	context string
}

// call sends a command and waits for its answer, skipping the events in between.
func (b *bidi) call(method string, params any) (json.RawMessage, error) {
	b.next++
	id := b.next
	if err := b.conn.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return nil, err
	}
	for {
		var m struct {
			ID      *int            `json:"id"`
			Result  json.RawMessage `json:"result"`
			Error   string          `json:"error"`
			Message string          `json:"message"`
		}
		if err := b.conn.ReadJSON(&m); err != nil {
			return nil, err
		}
		if m.ID == nil || *m.ID != id {
			continue
		}
		if m.Error != "" {
			return nil, fmt.Errorf("%s: %s: %s", method, m.Error, m.Message)
		}
		return m.Result, nil
	}
}

// eval runs expression in the page (awaiting a promise) and returns its value, serialized
// the BiDi way ({"type":..., "value":...}).
func (b *bidi) eval(expr string) (json.RawMessage, error) {
	raw, err := b.call("script.evaluate", map[string]any{"expression": expr, "awaitPromise": true,
		"target": map[string]string{"context": b.context}})
	if err != nil {
		return nil, err
	}
	var r struct {
		Type             string          `json:"type"`
		Result           json.RawMessage `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	if r.Type == "exception" {
		return nil, errors.New(r.ExceptionDetails.Text)
	}
	return r.Result, nil
}

// until evaluates a boolean expression until it is true.
func (b *bidi) until(expr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		v, err := b.eval(expr)
		if err == nil && strings.Contains(string(v), `"value":true`) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still false after %s: %s (last %s %v)", timeout, expr, v, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// keys types text (WebDriver key values: "\uE004" Tab, "\uE007" Enter) as key presses.
func (b *bidi) keys(text string) error {
	var actions []map[string]string
	for _, r := range text {
		actions = append(actions, map[string]string{"type": "keyDown", "value": string(r)}, map[string]string{"type": "keyUp", "value": string(r)})
	}
	_, err := b.call("input.performActions", map[string]any{"context": b.context,
		"actions": []map[string]any{{"type": "key", "id": "keyboard", "actions": actions}}})
	return err
}

const (
	keyTab   = "\uE004"
	keyEnter = "\uE007"
)

// startFirefox runs headless Firefox with WebDriver BiDi on a free port and opens a session.
func startFirefox(t *testing.T) *bidi {
	t.Helper()
	browser := ""
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Fatal("firefox is needed (.ci/run installs Debian's firefox-esr)")
	}
	cmd := exec.Command(browser, "--headless", "--no-remote", "--profile", t.TempDir(), "--remote-debugging-port=0", "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "WebDriver BiDi listening on "); ok {
				found <- strings.TrimSpace(url)
			}
		}
	}()
	var url string
	select {
	case url = <-found:
	case <-time.After(90 * time.Second):
		t.Fatal("firefox did not start WebDriver BiDi in 90 s")
	}
	conn, _, err := (&websocket.Dialer{HandshakeTimeout: 30 * time.Second}).Dial(url+"/session", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	b := &bidi{conn: conn}
	if _, err := b.call("session.new", map[string]any{"capabilities": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	raw, err := b.call("browsingContext.getTree", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := json.Unmarshal(raw, &tree); err != nil || len(tree.Contexts) == 0 {
		t.Fatalf("no browsing context: %s %v", raw, err)
	}
	b.context = tree.Contexts[0].Context
	if _, err := b.call("browsingContext.setViewport", map[string]any{"context": b.context,
		"viewport": map[string]int{"width": 1366, "height": 900}}); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDashboardInFirefox(t *testing.T) {
	d := startDemo(t)
	tok, err := os.ReadFile(filepath.Join(d.Dir, "switchyard-demo-data", "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(tok))
	b := startFirefox(t)
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			page, _ := b.eval(`document.body.innerHTML.slice(0, 3000)`)
			t.Fatalf("%s: %v\npage: %s", what, err, page)
		}
	}
	navigate := func(url string) error {
		_, err := b.call("browsingContext.navigate", map[string]any{"context": b.context, "url": url, "wait": "complete"})
		return err
	}
	// set gives an input a value the way typing does (an input event), for long values.
	set := func(sel, v string) error {
		_, err := b.eval(`(() => { const e = document.querySelector(` + jsString(sel) + `); e.value = ` + jsString(v) +
			`; e.dispatchEvent(new Event('input', {bubbles: true})); })()`)
		return err
	}

	step("open the dashboard", navigate(d.URL+"/dashboard/"))
	step("the sign-in form", b.until(`!!document.querySelector('input[name=account]')`, 30*time.Second))
	// The keyboard alone: focus the account field, type, Tab to the token, Enter submits.
	step("focus", func() error { _, err := b.eval(`document.querySelector('input[name=account]').focus()`); return err }())
	step("type the account", b.keys("demo"+keyTab))
	step("the token field has the focus", b.until(`document.activeElement.name === 'token'`, 5*time.Second))
	step("type the token", b.keys(admin+keyEnter))
	step("signed in", b.until(`!!document.querySelector('header.top nav') && document.body.textContent.includes('demo · admin')`, 30*time.Second))

	// Tab from the brand reaches the navigation; Enter on "Routes" opens it.
	step("focus the first link", func() error {
		_, err := b.eval(`document.querySelector('header.top nav a').focus()`)
		return err
	}())
	step("tab to Routes", b.keys(keyTab+keyTab+keyTab))
	step("Routes has the focus", b.until(`document.activeElement.textContent === 'Routes'`, 5*time.Second))
	step("enter", b.keys(keyEnter))
	step("the routes screen", b.until(`location.hash === '#/routes' && document.querySelector('h1').textContent === 'Dynamic routes'`, 10*time.Second))

	// The route editor: dagre's layout and the SVG graph, with the problem on its element.
	step("new route", navigate(d.URL+"/dashboard/#/routes/demo/new"))
	step("the editor", b.until(`!!document.querySelector('textarea[name=elements]')`, 30*time.Second))
	step("a dangling output", set(`textarea[name=elements]`, routeJSON("gpt-4o-mini", "finish")))
	step("its problem drawn on its element", b.until(`!!document.querySelector('g.node.has-problem[data-element=model]') && !!document.querySelector('g.node.missing')`, 30*time.Second))
	step("the node has a size", b.until(`document.querySelector('g.node[data-element=model] rect').getBBox().width > 100`, 5*time.Second))

	// A request, then the live log list picks it up and its detail opens from the keyboard.
	demoChat(t, d.URL+"/v1/demo/demo", "gpt-4o-mini", "hi from firefox")
	step("logs", navigate(d.URL+"/dashboard/#/logs/demo"))
	step("the log in the list", b.until(`!!document.querySelector('table[aria-label=logs] tbody tr[data-log-id]')`, 30*time.Second))
	step("focus its row", func() error {
		_, err := b.eval(`document.querySelector('table[aria-label=logs] tbody tr[data-log-id]').focus()`)
		return err
	}())
	step("enter", b.keys(keyEnter))
	step("its detail", b.until(`(document.querySelector('[data-response]') || {}).textContent?.includes('mock upstream')`, 30*time.Second))

	step("analytics", navigate(d.URL+"/dashboard/#/analytics/demo"))
	step("the chart is drawn", b.until(`!!document.querySelector('.chart canvas') && document.querySelector('[data-total=requests]').textContent !== '0'`, 30*time.Second))

	if dir := os.Getenv("SWITCHYARD_SCREENSHOTS"); dir != "" {
		raw, err := b.call("browsingContext.captureScreenshot", map[string]any{"context": b.context})
		step("screenshot", err)
		var shot struct {
			Data []byte `json:"data"` // base64 in the JSON
		}
		step("decode the screenshot", json.Unmarshal(raw, &shot))
		step("write the screenshot", os.WriteFile(filepath.Join(dir, "firefox-analytics.png"), shot.Data, 0o644))
	}
}
