// admin.go holds the operator subcommands that talk to a running gateway's control API:
// `switchyard token create|list|revoke` and `switchyard audit`. They authenticate with the
// bootstrap admin token ($SWITCHYARD_ADMIN_TOKEN, or <data-dir>/admin-token).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// apiClient calls the control API.
type apiClient struct {
	base     string
	baseFrom string // where base came from, for errors
	token    string
	account  string
	out      io.Writer
}

// clientFlags declares the flags every client command (token, audit) takes, and finds the
// running gateway and its admin token the way serve was told them: each from its flag,
// else the environment, else the same --config file serve reads, else serve's default.
func clientFlags(fs *flag.FlagSet) func() (*apiClient, error) {
	u := fs.String("url", "", "base URL of the running gateway (env SWITCHYARD_URL; else http:// + serve's --listen from SWITCHYARD_LISTEN or --config; else http://127.0.0.1:8787)")
	dataDir := fs.String("data-dir", "", "serve's data dir, holding admin-token when SWITCHYARD_ADMIN_TOKEN is unset (env SWITCHYARD_DATA_DIR; else --config's data-dir; else ./switchyard-data)")
	cfgFile := fs.String("config", "", "serve's JSON settings file, read for listen and data-dir (env SWITCHYARD_CONFIG)")
	acct := fs.String("account", os.Getenv("SWITCHYARD_ACCOUNT"), "account id (env SWITCHYARD_ACCOUNT)")
	return func() (*apiClient, error) {
		if *acct == "" {
			return nil, errors.New("--account is required (or SWITCHYARD_ACCOUNT)")
		}
		fileStr, cfg, err := serveConfigFile(*cfgFile)
		if err != nil {
			return nil, err
		}
		base, baseFrom := firstSet(*u, "--url", os.Getenv("SWITCHYARD_URL"), "SWITCHYARD_URL",
			listenURL("http", os.Getenv("SWITCHYARD_LISTEN")), "SWITCHYARD_LISTEN", listenURL("http", fileStr("listen")), "listen in "+cfg,
			"http://127.0.0.1:8787", "the default")
		dir, dirFrom := firstSet(*dataDir, "--data-dir", os.Getenv("SWITCHYARD_DATA_DIR"), "SWITCHYARD_DATA_DIR",
			fileStr("data-dir"), "data-dir in "+cfg, "./switchyard-data", "the default")
		tok := os.Getenv("SWITCHYARD_ADMIN_TOKEN")
		if tok == "" {
			path := filepath.Join(dir, "admin-token")
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("no admin token: SWITCHYARD_ADMIN_TOKEN is unset and %s (data dir from %s) cannot be read: %w; "+
					"set SWITCHYARD_ADMIN_TOKEN, or point --data-dir, SWITCHYARD_DATA_DIR or --config at serve's data dir", path, dirFrom, err)
			}
			tok = strings.TrimSpace(string(b))
		}
		return &apiClient{base: strings.TrimRight(base, "/"), baseFrom: baseFrom, token: tok, account: *acct, out: os.Stdout}, nil
	}
}

// firstSet returns the first non-empty value of value/source pairs, with its source.
func firstSet(pairs ...string) (value, from string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] != "" {
			return pairs[i], pairs[i+1]
		}
	}
	return "", ""
}

// serveConfigFile reads serve's --config file for a client command (given, else
// $SWITCHYARD_CONFIG; none: every setting reads empty) and returns its string settings.
func serveConfigFile(given string) (setting func(name string) string, path string, err error) {
	file := map[string]any{}
	path, _ = firstSet(given, "--config", os.Getenv("SWITCHYARD_CONFIG"), "SWITCHYARD_CONFIG")
	if path != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(b, &file)
		}
		if err != nil {
			return nil, "", fmt.Errorf("config %s: %w", path, err)
		}
	}
	return func(name string) string { v, _ := file[name].(string); return v }, path, nil
}

// listenURL is the URL (scheme http or nats) a client on this machine uses for a listen
// address of serve.
func listenURL(scheme, listen string) string {
	if listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// call sends a request and decodes the envelope's result into out.
func (c *apiClient) call(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+"/client/v4/accounts/"+url.PathEscape(c.account)+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the gateway at %s (from %s): %w; give --url, SWITCHYARD_URL or --config", c.base, c.baseFrom, err)
	}
	defer resp.Body.Close()
	var env struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code    int      `json:"code"`
			Message string   `json:"message"`
			Path    []string `json:"path"`
		} `json:"errors"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s %s: HTTP %d, unreadable answer: %w", method, path, resp.StatusCode, err)
	}
	if !env.Success {
		var msgs []string
		for _, e := range env.Errors {
			m := fmt.Sprintf("%d %s", e.Code, e.Message)
			if len(e.Path) > 0 {
				m += " (at " + strings.Join(e.Path, ".") + ")"
			}
			msgs = append(msgs, m)
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.Join(msgs, "; "))
	}
	if out != nil {
		return json.Unmarshal(env.Result, out)
	}
	return nil
}

type tokenOut struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Permissions []string  `json:"permissions"`
	Gateways    []string  `json:"gateways"`
	Hint        string    `json:"hint"`
	CreatedAt   time.Time `json:"created_at"`
	Value       string    `json:"value"`
}

// tokenCmd: switchyard token create|list|revoke.
func tokenCmd(args []string) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := newFlags(strings.TrimSpace("token " + sub))
	client := clientFlags(fs)
	name := fs.String("name", "", "create: the token's name")
	perms := fs.String("permissions", "run", "create: comma-separated permissions: run, read, edit, admin")
	gws := fs.String("gateways", "", "create: comma-separated gateway ids the token is limited to (all when empty)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if sub == "" {
		return errors.New("usage: switchyard token create|list|revoke [flags] (`switchyard token --help` lists them)")
	}
	c, err := client()
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		body := map[string]any{"name": *name, "permissions": splitList(*perms), "gateways": splitList(*gws)}
		var t tokenOut
		if err := c.call("POST", "/tokens", body, &t); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "id:          %s\npermissions: %s\ngateways:    %s\ntoken:       %s\n\nThe token is shown this once; store it now.\n",
			t.ID, strings.Join(t.Permissions, ","), orAll(t.Gateways), t.Value)
	case "list":
		var ts []tokenOut
		if err := c.call("GET", "/tokens", nil, &ts); err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tPERMISSIONS\tGATEWAYS\tHINT\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(t.Permissions, ","), orAll(t.Gateways), t.Hint, t.CreatedAt.Format(time.RFC3339))
		}
		return w.Flush()
	case "revoke":
		if len(pos) != 1 {
			return errors.New("usage: switchyard token revoke --account A <token id>")
		}
		if err := c.call("DELETE", "/tokens/"+url.PathEscape(pos[0]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "revoked %s\n", pos[0])
	default:
		return fmt.Errorf("unknown token command %q (create, list, revoke)", sub)
	}
	return nil
}

// parseInterspersed parses flags wherever they are among the arguments and returns the
// positional ones (the flag package alone stops at the first positional argument).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func splitList(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orAll(gws []string) string {
	if len(gws) == 0 {
		return "(all)"
	}
	return strings.Join(gws, ",")
}

// auditCmd: switchyard audit [--since T] [--resource R], newest first, one JSON line each.
func auditCmd(args []string) error {
	fs := newFlags("audit")
	client := clientFlags(fs)
	since := fs.String("since", "", "only changes at or after this time (RFC 3339, or a duration such as 24h)")
	resource := fs.String("resource", "", "only this resource type: gateway, token, provider_config, custom_provider")
	id := fs.String("id", "", "only this resource id")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	q := url.Values{}
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			d, derr := time.ParseDuration(*since)
			if derr != nil {
				return fmt.Errorf("--since %q: neither an RFC 3339 time nor a duration", *since)
			}
			t = time.Now().Add(-d)
		}
		q.Set("since", t.UTC().Format(time.RFC3339))
	}
	if *resource != "" {
		q.Set("resource", *resource)
	}
	if *id != "" {
		q.Set("resource.id", *id)
	}
	for page := 1; ; page++ {
		q.Set("page", fmt.Sprint(page))
		var entries []json.RawMessage
		if err := c.call("GET", "/audit_logs?"+q.Encode(), nil, &entries); err != nil {
			return err
		}
		for _, e := range entries {
			fmt.Fprintln(c.out, string(e))
		}
		if len(entries) < 100 {
			return nil
		}
	}
}
