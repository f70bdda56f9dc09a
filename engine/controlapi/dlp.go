// dlp.go serves an account's DLP profiles under /accounts/{account_id}/dlp/profiles in
// the shapes of cloudflare-go v7's zero_trust DLP profile services: the predefined profiles of
// engine/dlp (read only) and the account's custom profiles (config.DLPProfile, written through
// config.Service like every other resource). Reads need read permission on the account,
// writes edit permission, as for custom providers.
package controlapi

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/engine/dlp"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// dlpRoute maps dlp/... (p starts at "dlp") onto an endpoint.
func (s *API) dlpRoute(ctx *fasthttp.RequestCtx, who config.Principal, acct string, p []string) *route {
	if len(p) < 2 || p[1] != "profiles" {
		return nil
	}
	m := string(ctx.Method())
	read := func(h func()) *route { return &route{perm: config.PermRead, handle: h} }
	edit := func(h func()) *route { return &route{perm: config.PermEdit, handle: h} }
	body := func() []byte { return ctx.Request.Body() }
	p = p[2:]
	switch {
	case len(p) == 0 && m == "GET":
		return read(func() { s.listDLPProfiles(ctx, acct) })
	case len(p) == 1 && p[0] == "custom" && m == "POST":
		return edit(func() { s.writeDLPProfile(ctx, who, acct, "", body()) })
	case len(p) == 1 && m == "GET":
		return read(func() { s.getDLPProfile(ctx, acct, p[0], "") })
	case len(p) == 2 && p[0] == "custom":
		id := p[1]
		switch m {
		case "GET":
			return read(func() { s.getDLPProfile(ctx, acct, id, dlp.TypeCustom) })
		case "PUT", "PATCH":
			return edit(func() { s.writeDLPProfile(ctx, who, acct, id, body()) })
		case "DELETE":
			return edit(func() { s.deleteDLPProfile(ctx, who, acct, id) })
		}
	case len(p) >= 2 && p[0] == "predefined" && (len(p) == 2 || len(p) == 3 && p[2] == "config"):
		id, config := p[1], len(p) == 3
		switch m {
		case "GET":
			if config {
				return read(func() { s.getPredefinedConfig(ctx, id) })
			}
			return read(func() { s.getDLPProfile(ctx, acct, id, dlp.TypePredefined) })
		case "PUT", "PATCH":
			return edit(func() { s.updatePredefined(ctx, id, body()) })
		case "DELETE":
			if !config {
				// Hosted: a no-op, as predefined profiles cannot be deleted.
				return edit(func() { s.deletePredefined(ctx, id) })
			}
		}
	}
	return nil
}

// ---- views (the hosted shapes) ----

type dlpConfidence struct {
	AIContextAvailable bool `json:"ai_context_available"`
	Available          bool `json:"available"`
}

type dlpSkip struct {
	Files bool `json:"files"`
}

type dlpContextAwareness struct {
	Enabled bool    `json:"enabled"`
	Skip    dlpSkip `json:"skip"`
}

// dlpEntryView is an entry of any kind: predefined (confidence), custom (pattern) or word list.
type dlpEntryView struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Enabled     bool               `json:"enabled"`
	Type        string             `json:"type"`
	ProfileID   string             `json:"profile_id"`
	Description *string            `json:"description,omitempty"`
	Confidence  *dlpConfidence     `json:"confidence,omitempty"`
	Pattern     *config.DLPPattern `json:"pattern,omitempty"`
	WordList    *dlpWordList       `json:"word_list,omitempty"`
	CreatedAt   *time.Time         `json:"created_at,omitempty"`
	UpdatedAt   *time.Time         `json:"updated_at,omitempty"`
}

// dlpWordList is a word list entry's word_list (free-form in the hosted types).
type dlpWordList struct {
	Words []string `json:"words"`
}

// dlpProfileView is the hosted Profile: the predefined variant (no times) or the custom one.
type dlpProfileView struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Type                string          `json:"type"`
	Description         string          `json:"description"`
	AllowedMatchCount   int64           `json:"allowed_match_count"`
	ConfidenceThreshold string          `json:"confidence_threshold"`
	AIContextEnabled    bool            `json:"ai_context_enabled"`
	OCREnabled          bool            `json:"ocr_enabled"`
	OpenAccess          *bool           `json:"open_access,omitempty"`
	ContextAwareness    json.RawMessage `json:"context_awareness"`
	Entries             []dlpEntryView  `json:"entries"`
	SharedEntries       []dlpEntryView  `json:"shared_entries,omitempty"`
	DataClasses         []string        `json:"data_classes,omitempty"`
	DataTags            []string        `json:"data_tags,omitempty"`
	SensitivityLevels   []any           `json:"sensitivity_levels,omitempty"`
	CreatedAt           *time.Time      `json:"created_at,omitempty"`
	UpdatedAt           *time.Time      `json:"updated_at,omitempty"`
}

var noContextAwareness = mustMarshal(dlpContextAwareness{})

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func predefinedEntryView(e dlp.Entry, profileID string) dlpEntryView {
	return dlpEntryView{ID: e.ID, Name: e.Name, Enabled: e.Enabled, Type: dlp.TypePredefined, ProfileID: profileID,
		Confidence: &dlpConfidence{Available: true}}
}

func viewPredefined(p dlp.Profile) dlpProfileView {
	open := true
	v := dlpProfileView{ID: p.ID, Name: p.Name, Type: dlp.TypePredefined, Description: p.Description,
		ConfidenceThreshold: "low", OpenAccess: &open, ContextAwareness: noContextAwareness, Entries: []dlpEntryView{}}
	for _, e := range p.Entries {
		v.Entries = append(v.Entries, predefinedEntryView(e, p.ID))
	}
	return v
}

func viewCustom(p *config.DLPProfile) dlpProfileView {
	created, updated := p.CreatedAt, p.UpdatedAt
	v := dlpProfileView{ID: p.ID, Name: p.Name, Type: dlp.TypeCustom, Description: p.Description,
		AllowedMatchCount: p.AllowedMatchCount, ConfidenceThreshold: p.ConfidenceThreshold,
		AIContextEnabled: p.AIContextEnabled, OCREnabled: p.OCREnabled, ContextAwareness: json.RawMessage(p.ContextAwareness),
		Entries: []dlpEntryView{}, SharedEntries: []dlpEntryView{}, DataClasses: []string{}, DataTags: []string{},
		SensitivityLevels: []any{}, CreatedAt: &created, UpdatedAt: &updated}
	if len(v.ContextAwareness) == 0 {
		v.ContextAwareness = noContextAwareness
	}
	for _, e := range p.Entries {
		ev := dlpEntryView{ID: e.ID, Name: e.Name, Enabled: e.Enabled, Type: e.Type, ProfileID: p.ID}
		ec, eu := e.CreatedAt, e.UpdatedAt
		ev.CreatedAt, ev.UpdatedAt = &ec, &eu
		if e.Type == dlp.TypeWordList {
			ev.WordList = &dlpWordList{Words: e.Words}
		} else {
			desc := e.Description
			ev.Description, ev.Pattern = &desc, e.Pattern
		}
		v.Entries = append(v.Entries, ev)
	}
	for _, sh := range p.SharedEntries {
		name, owner, _ := config.PredefinedDLPEntry(sh.EntryID)
		v.SharedEntries = append(v.SharedEntries, predefinedEntryView(dlp.Entry{ID: sh.EntryID, Name: name, Enabled: sh.Enabled}, owner))
	}
	return v
}

// dlpProfileMessages says which stored settings of a custom profile the engine does not act on.
func dlpProfileMessages(p *config.DLPProfile) []apiMessage {
	var notes []string
	if p.AllowedMatchCount > 0 {
		notes = append(notes, "allowed_match_count (every match counts)")
	}
	for _, e := range p.Entries {
		if e.Pattern != nil && e.Pattern.Validation != "" {
			notes = append(notes, "pattern.validation luhn of entry "+e.Name+" (the regex alone decides; the predefined card entries are Luhn-checked)")
			break
		}
	}
	if p.OCREnabled || p.AIContextEnabled || p.ConfidenceThreshold != "low" {
		notes = append(notes, "ocr_enabled, ai_context_enabled and confidence_threshold")
	}
	if len(notes) == 0 {
		return nil
	}
	return []apiMessage{{Code: msgAdjusted, Message: "stored but not acted on by this gateway: " + strings.Join(notes, "; ")}}
}

// ---- handlers ----

func (s *API) listDLPProfiles(ctx *fasthttp.RequestCtx, acct string) {
	out := []dlpProfileView{}
	for _, p := range dlp.Predefined() {
		out = append(out, viewPredefined(p))
	}
	for _, p := range s.snap().DLPProfiles(acct) {
		out = append(out, viewCustom(p))
	}
	ok(ctx, out)
}

// getDLPProfile answers a profile by id; kind restricts it to predefined or custom ones.
func (s *API) getDLPProfile(ctx *fasthttp.RequestCtx, acct, id, kind string) {
	if kind != dlp.TypeCustom {
		if p, found := dlp.PredefinedByID(id); found {
			ok(ctx, viewPredefined(p))
			return
		}
	}
	if kind != dlp.TypePredefined {
		if p := s.snap().DLPProfile(acct, id); p != nil {
			ok(ctx, viewCustom(p))
			return
		}
	}
	apiFail(ctx, 404, codeNotFound, "DLP profile not found", "path", "profile_id")
}

// predefinedConfigView is the hosted PredefinedProfile (predefined/{id}/config).
type predefinedConfigView struct {
	ID                  string         `json:"id"`
	Name                string         `json:"name"`
	AllowedMatchCount   int64          `json:"allowed_match_count"`
	ConfidenceThreshold string         `json:"confidence_threshold"`
	EnabledEntries      []string       `json:"enabled_entries"`
	Entries             []dlpEntryView `json:"entries"`
	AIContextEnabled    bool           `json:"ai_context_enabled"`
	OCREnabled          bool           `json:"ocr_enabled"`
	OpenAccess          bool           `json:"open_access"`
}

func viewPredefinedConfig(p dlp.Profile) predefinedConfigView {
	v := predefinedConfigView{ID: p.ID, Name: p.Name, ConfidenceThreshold: "low", EnabledEntries: []string{}, Entries: []dlpEntryView{}, OpenAccess: true}
	for _, e := range p.Entries {
		if e.Enabled {
			v.EnabledEntries = append(v.EnabledEntries, e.ID)
			v.Entries = append(v.Entries, predefinedEntryView(e, p.ID))
		}
	}
	return v
}

func (s *API) getPredefinedConfig(ctx *fasthttp.RequestCtx, id string) {
	p, found := dlp.PredefinedByID(id)
	if !found {
		apiFail(ctx, 404, codeNotFound, "DLP profile not found", "path", "profile_id")
		return
	}
	ok(ctx, viewPredefinedConfig(p))
}

// updatePredefined accepts an update that leaves every entry enabled (what a tool re-applying
// the defaults sends) and refuses any other: predefined profiles are fixed here; a custom
// profile with shared_entries picks the predefined entries an account wants.
func (s *API) updatePredefined(ctx *fasthttp.RequestCtx, id string, body []byte) {
	p, found := dlp.PredefinedByID(id)
	if !found {
		apiFail(ctx, 404, codeNotFound, "DLP profile not found", "path", "profile_id")
		return
	}
	var b struct {
		EnabledEntries *[]string `json:"enabled_entries"`
		Entries        *[]struct {
			ID      string `json:"id"`
			Enabled *bool  `json:"enabled"`
		} `json:"entries"`
	}
	if len(body) > 0 && json.Unmarshal(body, &b) != nil {
		apiFail(ctx, 400, codeBadRequest, "request body must be a JSON object {enabled_entries} or {entries: [{id, enabled}]}", "body")
		return
	}
	all := make([]string, 0, len(p.Entries))
	for _, e := range p.Entries {
		all = append(all, e.ID)
	}
	unchanged := true
	if b.EnabledEntries != nil {
		got := slices.Clone(*b.EnabledEntries)
		slices.Sort(got)
		want := slices.Clone(all)
		slices.Sort(want)
		unchanged = slices.Equal(slices.Compact(got), want)
	}
	if b.Entries != nil {
		for _, e := range *b.Entries {
			if !slices.Contains(all, e.ID) || e.Enabled != nil && !*e.Enabled {
				unchanged = false
			}
		}
	}
	if !unchanged {
		apiFail(ctx, 400, codeBadRequest, "predefined DLP profiles cannot be changed here: every entry stays enabled. "+
			"To use some of their entries, create a custom profile (POST /accounts/{account_id}/dlp/profiles/custom) "+
			"with shared_entries naming the predefined entry ids you want", "path", "profile_id")
		return
	}
	ok(ctx, viewPredefinedConfig(p))
}

func (s *API) deletePredefined(ctx *fasthttp.RequestCtx, id string) {
	if _, found := dlp.PredefinedByID(id); !found {
		apiFail(ctx, 404, codeNotFound, "DLP profile not found", "path", "profile_id")
		return
	}
	ok(ctx, nil)
}

// writeDLPProfile creates (id empty) or updates a custom profile.
func (s *API) writeDLPProfile(ctx *fasthttp.RequestCtx, who config.Principal, acct, id string, body []byte) {
	c, cancel := writeCtx()
	defer cancel()
	var p *config.DLPProfile
	var err error
	if id == "" {
		p, err = s.opts.Config.CreateDLPProfile(c, who.Actor(), acct, body)
	} else {
		if _, predefined := dlp.PredefinedByID(id); predefined {
			apiFail(ctx, 400, codeBadRequest, "profile "+id+" is a predefined profile: PUT /accounts/{account_id}/dlp/profiles/predefined/"+id+"/config", "path", "profile_id")
			return
		}
		p, err = s.opts.Config.UpdateDLPProfile(c, who.Actor(), acct, id, body)
	}
	if err != nil {
		s.fail(ctx, err)
		return
	}
	okWith(ctx, viewCustom(p), dlpProfileMessages(p))
}

// deleteDLPProfile deletes a custom profile (409 while a gateway's dlp setting names it). The
// hosted answer's result is null.
func (s *API) deleteDLPProfile(ctx *fasthttp.RequestCtx, who config.Principal, acct, id string) {
	c, cancel := writeCtx()
	defer cancel()
	if _, err := s.opts.Config.DeleteDLPProfile(c, who.Actor(), acct, id); err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, nil)
}
