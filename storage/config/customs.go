// customs.go: custom providers, with the hosted errors (1002 base_url, 1003 duplicate
// slug, 1004 not found). The base URL is vetted by CheckBaseURL (https, SSRF guard).
package config

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/events"
)

// ResolveProvider finds the provider a slug names: a built-in one of table, or
// custom-{slug}, one of the account's enabled custom providers. The error says why
// none matched, in words a client can act on.
func (s *Snapshot) ResolveProvider(table providers.Table, acct, slug string) (*providers.Resolved, error) {
	if name, ok := strings.CutPrefix(slug, "custom-"); ok {
		cp := s.CustomProviderBySlug(acct, name)
		if cp == nil {
			return nil, errors.New("no custom provider with slug " + name + " in account " + acct)
		}
		if !cp.Enable {
			return nil, errors.New("custom provider " + name + " is disabled (enable it with PATCH .../custom-providers/" + cp.ID + ")")
		}
		return providers.Custom(slug, cp.BaseURL), nil
	}
	p, ok := table[slug]
	if !ok {
		return nil, errors.New("unknown provider " + strings.ReplaceAll(slug, "\"", "") + "; supported: " + strings.Join(providers.Slugs(), ", ") + ", custom-{slug}")
	}
	return p, nil
}

func customNotFound(id string) *Error {
	return &Error{Status: 404, Code: CodeCustomNotFound, Message: "Custom Provider not found", Path: []string{"path", "id"}}
}

// logo draws the provider's initial as a small SVG, returned base64-encoded as hosted.
func logo(name string) string {
	initial := "?"
	for _, r := range name {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			initial = strings.ToUpper(string(r))
			break
		}
	}
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" rx="12" fill="#3b4a6b"/>` +
		`<text x="32" y="42" font-family="sans-serif" font-size="30" text-anchor="middle" fill="#fff">` + initial + `</text></svg>`
	return base64.StdEncoding.EncodeToString([]byte(svg))
}

func (s *Service) validateCustom(snap *Snapshot, c *CustomProvider) *Error {
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 {
		return invalid("name is required (at most 200 characters)", "body", "name")
	}
	if !validSlug(c.Slug) {
		return invalid("slug must be 1-64 lowercase letters, digits and inner hyphens", "body", "slug")
	}
	if o := snap.CustomProviderBySlug(c.AccountID, c.Slug); o != nil && o.ID != c.ID {
		return &Error{Status: 409, Code: CodeDuplicateSlug, Message: "A custom provider with this slug already exists", Path: []string{"body", "slug"}}
	}
	check := s.CheckBaseURL
	if check == nil {
		check = func(u string) error {
			if !strings.HasPrefix(u, "https://") {
				return errHTTPS
			}
			return nil
		}
	}
	if err := check(c.BaseURL); err != nil {
		return &Error{Status: 400, Code: CodeInvalidBaseURL, Message: "base_url must be a valid HTTPS URL starting with https://: " + err.Error(), Path: []string{"body", "base_url"}}
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return nil
}

var errHTTPS = errors.New("not https")

// CreateCustomProvider creates a custom provider.
func (s *Service) CreateCustomProvider(ctx context.Context, actor events.Actor, acct string, body []byte) (*CustomProvider, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		var c CustomProvider
		if e := decode(body, &c); e != nil {
			return nil, e
		}
		now := s.Now().UTC()
		c.ID, c.AccountID, c.CreatedAt, c.ModifiedAt = uuid.NewString(), acct, now, now
		if e := s.validateCustom(snap, &c); e != nil {
			return nil, e
		}
		c.Logo = logo(c.Name)
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResCustomProvider, ResourceID: c.ID,
			AccountID: acct, Old: []byte("null"), New: mustJSON(c)}, result: &c}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*CustomProvider), nil
}

// UpdateCustomProvider applies the fields present in body (PATCH semantics; PUT too).
func (s *Service) UpdateCustomProvider(ctx context.Context, actor events.Actor, acct, id string, body []byte) (*CustomProvider, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.CustomProvider(id)
		if old == nil || old.AccountID != acct {
			return nil, customNotFound(id)
		}
		c := *old
		if e := decode(body, &c); e != nil {
			return nil, e
		}
		c.ID, c.AccountID, c.CreatedAt, c.ModifiedAt = old.ID, acct, old.CreatedAt, s.Now().UTC()
		if e := s.validateCustom(snap, &c); e != nil {
			return nil, e
		}
		if c.Name != old.Name {
			c.Logo = logo(c.Name)
		}
		return &change{ev: events.ConfigChanged{Action: "update", Resource: ResCustomProvider, ResourceID: id,
			AccountID: acct, Old: mustJSON(old), New: mustJSON(c)}, result: &c}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*CustomProvider), nil
}

// DeleteCustomProvider deletes a custom provider; requests to it fail from the next one on.
func (s *Service) DeleteCustomProvider(ctx context.Context, actor events.Actor, acct, id string) (*CustomProvider, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.CustomProvider(id)
		if old == nil || old.AccountID != acct {
			return nil, customNotFound(id)
		}
		return &change{ev: events.ConfigChanged{Action: "delete", Resource: ResCustomProvider, ResourceID: id,
			AccountID: acct, Old: mustJSON(old), New: []byte("null")}, result: old}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*CustomProvider), nil
}
