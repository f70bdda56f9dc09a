// resources.go serves the configuration resources of the control API: gateways
// (and their data-plane URL), stored provider keys (provider_configs), custom providers,
// API tokens and the audit trail. Reads come from the snapshot; writes go through
// config.Service, which answers once the change is applied (read your writes).
package controlapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/storage/config"
	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

func (s *API) snap() *config.Snapshot { return s.opts.Config.Projection().Current() }

// gatewayIDIn reads the id of a gateway create body without decoding the rest.
func gatewayIDIn(body []byte) string {
	id := gjson.GetBytes(body, "id").String()
	if !config.ValidID(id) {
		return "-" // no valid id: scoped tokens are refused, the service names the field
	}
	return id
}

// ---- gateways ----

func (s *API) listGateways(ctx *fasthttp.RequestCtx, who config.Principal, acct string) {
	page, perPage, perr := pageArgs(ctx, 20)
	if perr != nil {
		apiFail(ctx, 400, perr.Code, perr.Message, perr.Path...)
		return
	}
	search := strings.ToLower(string(ctx.QueryArgs().Peek("search")))
	var all []*config.Gateway
	for _, g := range s.snap().Gateways(acct) {
		if (search == "" || strings.Contains(strings.ToLower(g.ID), search)) && who.Can(config.PermRead, acct, g.ID) {
			all = append(all, g)
		}
	}
	res := pageOf(all, page, perPage)
	for i, g := range res {
		res[i] = answerGateway(g)
	}
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []apiMessage{}, Result: res,
		ResultInfo: newResultInfo(page, perPage, len(res), len(all))})
}

// answerGateway is a gateway as the API answers it: as stored, except the metadata of its
// spend_limits rules, which cloudflare-go v7 cannot decode (its generated union panics on
// {"mode":…}: every Get, List, New, Update and Delete of the gateway would). It stays
// stored, in the config events and the audit log, and the answer's messages mention it.
func answerGateway(g *config.Gateway) *config.Gateway {
	if !bytes.Contains(g.SpendLimits, []byte(`"metadata"`)) {
		return g
	}
	var sl map[string]json.RawMessage
	var rules []map[string]json.RawMessage
	if json.Unmarshal(g.SpendLimits, &sl) != nil || json.Unmarshal(sl["rules"], &rules) != nil {
		return g
	}
	for _, r := range rules {
		delete(r, "metadata")
	}
	sl["rules"], _ = json.Marshal(rules)
	out := *g
	out.SpendLimits, _ = json.Marshal(sl)
	return &out
}

func (s *API) getGateway(ctx *fasthttp.RequestCtx, acct, gw string) {
	g := s.snap().Gateway(acct, gw)
	if g == nil {
		apiFail(ctx, 404, codeNotFound, "gateway "+gw+" not found", "path", "gateway_id")
		return
	}
	okWith(ctx, answerGateway(g), gatewayMessages(g))
}

// gatewayMessages says, in the answer's messages, which of the gateway's settings are
// stored but not acted on here (code 7101), one entry each, and which spend_limits rules
// work differently (7101 when not enforced, 7102 when counted over a longer window).
func gatewayMessages(g *config.Gateway) []apiMessage {
	var out []apiMessage
	for _, in := range g.InactiveSettings() {
		code := msgNotActedOn
		if in.Adjusted {
			code = msgAdjusted
		}
		out = append(out, apiMessage{code, in.Message})
	}
	return out
}

func (s *API) createGateway(ctx *fasthttp.RequestCtx, who config.Principal, acct string, body []byte) {
	c, cancel := writeCtx()
	defer cancel()
	g, err := s.opts.Config.CreateGateway(c, who.Actor(), acct, body)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	okWith(ctx, answerGateway(g), gatewayMessages(g))
}

func (s *API) updateGateway(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw string, body []byte) {
	c, cancel := writeCtx()
	defer cancel()
	g, err := s.opts.Config.UpdateGateway(c, who.Actor(), acct, gw, body)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	okWith(ctx, answerGateway(g), gatewayMessages(g))
}

func (s *API) deleteGateway(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw string) {
	c, cancel := writeCtx()
	defer cancel()
	g, err := s.opts.Config.DeleteGateway(c, who.Actor(), acct, gw)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, answerGateway(g))
}

// gatewayURL answers the data-plane base URL of a provider on a gateway, on the host and
// scheme the caller used to reach this server.
func (s *API) gatewayURL(ctx *fasthttp.RequestCtx, acct, gw, provider string) {
	snap := s.snap()
	if snap.Gateway(acct, gw) == nil {
		apiFail(ctx, 404, codeNotFound, "gateway "+gw+" not found", "path", "gateway_id")
		return
	}
	if _, err := snap.ResolveProvider(s.opts.Providers, acct, provider); err != nil {
		apiFail(ctx, 400, codeBadRequest, err.Error(), "path", "provider")
		return
	}
	scheme := "http"
	if ctx.IsTLS() {
		scheme = "https"
	}
	ok(ctx, scheme+"://"+string(ctx.Host())+"/v1/"+acct+"/"+gw+"/"+provider)
}

// ---- stored provider keys ----

// keyView is a stored key as the API shows it: metadata, a masked preview, its status and
// when it was last used — never the key.
type keyView struct {
	ID              string     `json:"id"`
	Alias           string     `json:"alias"`
	DefaultConfig   bool       `json:"default_config"`
	GatewayID       string     `json:"gateway_id"`
	ProviderSlug    string     `json:"provider_slug"`
	SecretID        string     `json:"secret_id"`
	SecretPreview   string     `json:"secret_preview"`
	RateLimit       float64    `json:"rate_limit"`
	RateLimitPeriod float64    `json:"rate_limit_period"`
	Status          string     `json:"status"`
	LastUsedAt      *time.Time `json:"last_used_at"`
	CreatedAt       time.Time  `json:"created_at"`
	ModifiedAt      time.Time  `json:"modified_at"`
}

func (s *API) viewKey(k *config.ProviderKey) keyView {
	v := keyView{ID: k.ID, Alias: k.Alias, DefaultConfig: k.DefaultConfig, GatewayID: k.GatewayID,
		ProviderSlug: k.ProviderSlug, SecretID: k.SecretID, SecretPreview: k.SecretPreview, RateLimit: k.RateLimit,
		RateLimitPeriod: k.RateLimitPeriod, Status: k.Status(), CreatedAt: k.CreatedAt, ModifiedAt: k.ModifiedAt}
	if at, found := s.opts.Logs.KeyLastUsed(k.ID); found {
		v.LastUsedAt = &at
	}
	return v
}

func (s *API) listProviderKeys(ctx *fasthttp.RequestCtx, acct, gw string) {
	page, perPage, perr := pageArgs(ctx, 20)
	if perr != nil {
		apiFail(ctx, 400, perr.Code, perr.Message, perr.Path...)
		return
	}
	snap := s.snap()
	if snap.Gateway(acct, gw) == nil {
		apiFail(ctx, 404, codeNotFound, "gateway "+gw+" not found", "path", "gateway_id")
		return
	}
	all := snap.ProviderKeys(acct, gw)
	res := []keyView{}
	for _, k := range pageOf(all, page, perPage) {
		res = append(res, s.viewKey(k))
	}
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []apiMessage{}, Result: res,
		ResultInfo: newResultInfo(page, perPage, len(res), len(all))})
}

func (s *API) getProviderKey(ctx *fasthttp.RequestCtx, acct, gw, id string) {
	k := s.snap().ProviderKey(id)
	if k == nil || k.AccountID != acct || k.GatewayID != gw {
		apiFail(ctx, 404, codeNotFound, "provider config "+id+" not found", "path", "id")
		return
	}
	ok(ctx, s.viewKey(k))
}

// writeProviderKey creates (id empty) or updates a stored key; an update with a new
// secret rotates it.
func (s *API) writeProviderKey(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw, id string, body []byte) {
	c, cancel := writeCtx()
	defer cancel()
	var k *config.ProviderKey
	var err error
	if id == "" {
		k, err = s.opts.Config.CreateProviderKey(c, who.Actor(), acct, gw, body)
	} else {
		k, err = s.opts.Config.UpdateProviderKey(c, who.Actor(), acct, gw, id, body)
	}
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, s.viewKey(k))
}

func (s *API) deleteProviderKey(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw, id string) {
	c, cancel := writeCtx()
	defer cancel()
	k, err := s.opts.Config.DeleteProviderKey(c, who.Actor(), acct, gw, id)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, s.viewKey(k))
}

// ---- custom providers ----

func (s *API) listCustomProviders(ctx *fasthttp.RequestCtx, acct string) {
	page, perPage, perr := pageArgs(ctx, 20)
	if perr != nil {
		apiFail(ctx, 400, perr.Code, perr.Message, perr.Path...)
		return
	}
	args := ctx.QueryArgs()
	var enable, beta *bool
	for _, f := range []struct {
		name string
		dst  **bool
	}{{"enable", &enable}, {"beta", &beta}} {
		if v := args.Peek(f.name); v != nil {
			b, err := strconv.ParseBool(string(v))
			if err != nil {
				apiFail(ctx, 400, codeBadRequest, f.name+" must be true or false", "query", f.name)
				return
			}
			*f.dst = &b
		}
	}
	less, err := customOrder(string(args.Peek("order_by")))
	if err != nil {
		apiFail(ctx, 400, codeBadRequest, err.Error(), "query", "order_by")
		return
	}
	search := strings.ToLower(string(args.Peek("search")))
	var all []*config.CustomProvider
	for _, c := range s.snap().CustomProviders(acct) {
		switch {
		case enable != nil && c.Enable != *enable, beta != nil && c.Beta != *beta:
			continue
		case search != "" && !strings.Contains(strings.ToLower(c.ID+"\x00"+c.Name+"\x00"+c.Slug), search):
			continue
		}
		all = append(all, c)
	}
	sort.SliceStable(all, func(i, j int) bool { return less(all[i], all[j]) })
	res := pageOf(all, page, perPage)
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []apiMessage{}, Result: res,
		ResultInfo: newResultInfo(page, perPage, len(res), len(all))})
}

// customOrder parses order_by ("name ASC" by default; name, slug, created_at, modified_at
// or position, ASC or DESC).
func customOrder(v string) (func(a, b *config.CustomProvider) bool, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		f = []string{"name"}
	}
	if len(f) > 2 {
		return nil, errors.New("order_by must be '<field> [ASC|DESC]'")
	}
	desc := false
	if len(f) == 2 {
		switch strings.ToUpper(f[1]) {
		case "ASC":
		case "DESC":
			desc = true
		default:
			return nil, errors.New("order_by direction must be ASC or DESC")
		}
	}
	var key func(c *config.CustomProvider) string
	switch f[0] {
	case "name":
		key = func(c *config.CustomProvider) string { return strings.ToLower(c.Name) }
	case "slug":
		key = func(c *config.CustomProvider) string { return c.Slug }
	case "created_at":
		key = func(c *config.CustomProvider) string { return c.CreatedAt.Format(time.RFC3339Nano) }
	case "modified_at":
		key = func(c *config.CustomProvider) string { return c.ModifiedAt.Format(time.RFC3339Nano) }
	case "position":
		key = func(c *config.CustomProvider) string { return strconv.FormatInt(1<<40+c.Position, 10) }
	default:
		return nil, errors.New("order_by field must be name, slug, created_at, modified_at or position")
	}
	return func(a, b *config.CustomProvider) bool {
		if desc {
			return key(a) > key(b)
		}
		return key(a) < key(b)
	}, nil
}

func (s *API) getCustomProvider(ctx *fasthttp.RequestCtx, acct, id string) {
	c := s.snap().CustomProvider(id)
	if c == nil || c.AccountID != acct {
		apiFail(ctx, 404, config.CodeCustomNotFound, "Custom Provider not found", "path", "id")
		return
	}
	ok(ctx, c)
}

// writeCustom creates (id empty) or updates a custom provider.
func (s *API) writeCustom(ctx *fasthttp.RequestCtx, who config.Principal, acct, id string, body []byte) {
	c, cancel := writeCtx()
	defer cancel()
	var cp *config.CustomProvider
	var err error
	if id == "" {
		cp, err = s.opts.Config.CreateCustomProvider(c, who.Actor(), acct, body)
	} else {
		cp, err = s.opts.Config.UpdateCustomProvider(c, who.Actor(), acct, id, body)
	}
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, cp)
}

func (s *API) deleteCustom(ctx *fasthttp.RequestCtx, who config.Principal, acct, id string) {
	c, cancel := writeCtx()
	defer cancel()
	cp, err := s.opts.Config.DeleteCustomProvider(c, who.Actor(), acct, id)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, cp)
}

// ---- API tokens ----

// tokenView is a token as listed: never its value or hash.
type tokenView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Permissions []string  `json:"permissions"`
	Gateways    []string  `json:"gateways"`
	Hint        string    `json:"hint"`
	CreatedAt   time.Time `json:"created_at"`
	Value       string    `json:"value,omitempty"` // only in the create answer
}

func viewToken(t *config.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Permissions: t.Permissions, Gateways: t.Gateways, Hint: t.Hint, CreatedAt: t.CreatedAt}
}

func (s *API) listTokens(ctx *fasthttp.RequestCtx, acct string) {
	res := []tokenView{}
	for _, t := range s.snap().Tokens(acct) {
		res = append(res, viewToken(t))
	}
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []apiMessage{}, Result: res,
		ResultInfo: newResultInfo(1, max(len(res), 1), len(res), len(res))})
}

// verifyView is the answer of tokens/verify: the hosted fields (id, status) and ours, what
// the token may do (the dashboard shows only what the token may use).
type verifyView struct {
	ID          string   `json:"id"`
	Status      string   `json:"status"`
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
	Gateways    []string `json:"gateways"`
}

// verifyToken answers who the caller is: any valid token of the account may ask.
func (s *API) verifyToken(ctx *fasthttp.RequestCtx, who config.Principal) {
	if who.Admin {
		ok(ctx, verifyView{ID: "admin", Status: "active", Name: "bootstrap admin token", Permissions: []string{config.PermAdmin}, Gateways: []string{}})
		return
	}
	t := who.Token
	gws := t.Gateways
	if gws == nil {
		gws = []string{}
	}
	ok(ctx, verifyView{ID: t.ID, Status: "active", Name: t.Name, Permissions: t.Permissions, Gateways: gws})
}

func (s *API) createToken(ctx *fasthttp.RequestCtx, who config.Principal, acct string, body []byte) {
	c, cancel := writeCtx()
	defer cancel()
	t, value, err := s.opts.Config.CreateToken(c, who.Actor(), acct, body)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	v := viewToken(t)
	v.Value = value
	ok(ctx, v)
}

func (s *API) revokeToken(ctx *fasthttp.RequestCtx, who config.Principal, acct, id string) {
	c, cancel := writeCtx()
	defer cancel()
	t, err := s.opts.Config.RevokeToken(c, who.Actor(), acct, id)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, viewToken(t))
}

// ---- audit ----

// auditLogs serves the audit trail: filters resource (or resource.type), resource.id,
// since and before (RFC 3339), page and per_page; newest first.
func (s *API) auditLogs(ctx *fasthttp.RequestCtx, acct string) {
	page, perPage, perr := pageArgs(ctx, 100)
	if perr != nil {
		apiFail(ctx, 400, perr.Code, perr.Message, perr.Path...)
		return
	}
	q := config.AuditQuery{AccountID: acct}
	for k, v := range ctx.QueryArgs().All() {
		key, val := string(k), string(v)
		switch key {
		case "page", "per_page":
		case "resource", "resource.type":
			q.ResourceType = val
		case "resource.id":
			q.ResourceID = val
		case "since", "before":
			t, err := time.Parse(time.RFC3339, val)
			if err != nil {
				apiFail(ctx, 400, codeBadRequest, key+" must be an RFC 3339 time", "query", key)
				return
			}
			if key == "since" {
				q.Since = t
			} else {
				q.Before = t
			}
		default:
			apiFail(ctx, 400, codeBadRequest, "query parameter "+key+" is not supported", "query", key)
			return
		}
	}
	all := s.opts.Config.Projection().Audit(q)
	res := pageOf(all, page, perPage)
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []apiMessage{}, Result: res,
		ResultInfo: newResultInfo(page, perPage, len(res), len(all))})
}
