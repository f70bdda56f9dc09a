// dlpprofiles.go: an account's custom DLP profiles, in the hosted shape (cloudflare-go v7
// zero_trust DLPProfileCustom*): regex entries ({name, pattern: {regex, validation}, enabled}),
// word lists ({name, words, enabled}) and shared entries (predefined entries of engine/dlp
// reused by id). A profile is a config resource: each write is a config.changed event
// ("dlp_profile") applied to the snapshot, so it is replayed, audited and read back like every
// other control-plane write. What is stored always compiles in the engine (dlp.Compile is the
// final check), and a profile a gateway's dlp setting names cannot be deleted.
package config

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/switchyard/switchyard/engine/dlp"
	"github.com/switchyard/switchyard/events"
)

// ResDLPProfile names custom DLP profiles in events and audit entries.
const ResDLPProfile = "dlp_profile"

// Custom DLP profile limits.
const (
	maxDLPProfiles       = 200  // custom profiles per account
	maxDLPEntries        = 100  // own entries per profile
	maxDLPSharedEntries  = 200  // shared (predefined) entries per profile
	maxDLPDescription    = 1000 // bytes
	maxDLPRegex          = 1024 // bytes of one pattern
	maxDLPWords          = 1000 // words of one word list
	maxDLPWord           = 256  // bytes of one word
	maxDLPMatchCount     = 1000 // allowed_match_count
	dlpDefaultConfidence = "low"
)

// DLPProfile is a custom DLP profile as stored and answered (hosted field names).
type DLPProfile struct {
	ID                  string           `json:"id"`
	AccountID           string           `json:"account_id"`
	Name                string           `json:"name"`
	Description         string           `json:"description"`
	AllowedMatchCount   int64            `json:"allowed_match_count"`
	ConfidenceThreshold string           `json:"confidence_threshold"`
	AIContextEnabled    bool             `json:"ai_context_enabled"`
	OCREnabled          bool             `json:"ocr_enabled"`
	ContextAwareness    json.RawMessage  `json:"context_awareness,omitempty"`
	Entries             []DLPEntry       `json:"entries"`
	SharedEntries       []DLPSharedEntry `json:"shared_entries"`
	CreatedAt           time.Time        `json:"created_at"`
	UpdatedAt           time.Time        `json:"updated_at"`
}

// DLPEntry is one entry a custom profile owns: a regex (type "custom") or a word list
// (type "word_list").
type DLPEntry struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Enabled     bool        `json:"enabled"`
	Type        string      `json:"type"`
	Pattern     *DLPPattern `json:"pattern,omitempty"`
	Words       []string    `json:"words,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// DLPPattern is a regex entry's pattern. Validation "luhn" is accepted and kept (the hosted
// API has deprecated it); the engine does not apply it.
type DLPPattern struct {
	Regex      string `json:"regex"`
	Validation string `json:"validation,omitempty"`
}

// DLPSharedEntry reuses a predefined entry (engine/dlp) in a custom profile.
type DLPSharedEntry struct {
	EntryID   string `json:"entry_id"`
	Enabled   bool   `json:"enabled"`
	EntryType string `json:"entry_type"`
}

// PredefinedDLPEntry finds a predefined entry by id: its name and its profile's id.
func PredefinedDLPEntry(id string) (name, profileID string, ok bool) {
	e, ok := predefinedEntries[id]
	return e.name, e.profile, ok
}

var predefinedEntries = func() map[string]struct{ name, profile string } {
	m := map[string]struct{ name, profile string }{}
	for _, p := range dlp.Predefined() {
		for _, e := range p.Entries {
			m[e.ID] = struct{ name, profile string }{e.Name, p.ID}
		}
	}
	return m
}()

// Detector is the profile as the engine scans with it.
func (p *DLPProfile) Detector() dlp.Profile {
	out := dlp.Profile{ID: p.ID, Name: p.Name, Description: p.Description, Type: dlp.TypeCustom}
	for _, e := range p.Entries {
		d := dlp.Entry{ID: e.ID, Name: e.Name, Enabled: e.Enabled, Type: e.Type, Words: e.Words}
		if e.Pattern != nil {
			d.Pattern = e.Pattern.Regex
		}
		out.Entries = append(out.Entries, d)
	}
	for _, s := range p.SharedEntries {
		name, _, _ := PredefinedDLPEntry(s.EntryID)
		out.Entries = append(out.Entries, dlp.Entry{ID: s.EntryID, Name: name, Enabled: s.Enabled, Type: dlp.TypePredefined})
	}
	return out
}

// ---- bodies ----

type dlpProfileBody struct {
	Name                *string            `json:"name"`
	Description         *string            `json:"description"`
	AllowedMatchCount   *int64             `json:"allowed_match_count"`
	ConfidenceThreshold *string            `json:"confidence_threshold"`
	AIContextEnabled    *bool              `json:"ai_context_enabled"`
	OCREnabled          *bool              `json:"ocr_enabled"`
	ContextAwareness    json.RawMessage    `json:"context_awareness"`
	Entries             *[]json.RawMessage `json:"entries"`
	SharedEntries       *[]json.RawMessage `json:"shared_entries"`
}

type dlpEntryBody struct {
	EntryID     *string         `json:"entry_id"`
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Enabled     *bool           `json:"enabled"`
	Pattern     json.RawMessage `json:"pattern"`
	Words       json.RawMessage `json:"words"`
}

type dlpPatternBody struct {
	Regex      *string `json:"regex"`
	Validation *string `json:"validation"`
}

type dlpSharedBody struct {
	EntryID   *string `json:"entry_id"`
	Enabled   *bool   `json:"enabled"`
	EntryType *string `json:"entry_type"`
}

// applyDLPBody applies a create or update body to p (old: the stored profile on update, nil on
// create), validating every field and naming the one at fault.
func applyDLPBody(p *DLPProfile, old *DLPProfile, body []byte, now time.Time) *Error {
	var b dlpProfileBody
	if e := decode(body, &b); e != nil {
		return e
	}
	if b.Name != nil {
		p.Name = strings.TrimSpace(*b.Name)
	}
	if p.Name == "" || utf8.RuneCountInString(p.Name) > maxNameLen {
		return invalid("name is required (1-200 characters)", "body", "name")
	}
	if b.Description != nil {
		p.Description = *b.Description
	}
	if len(p.Description) > maxDLPDescription {
		return invalid(fmt.Sprintf("description must be at most %d bytes", maxDLPDescription), "body", "description")
	}
	if b.AllowedMatchCount != nil {
		p.AllowedMatchCount = *b.AllowedMatchCount
	}
	if p.AllowedMatchCount < 0 || p.AllowedMatchCount > maxDLPMatchCount {
		return invalid(fmt.Sprintf("allowed_match_count must be between 0 and %d", maxDLPMatchCount), "body", "allowed_match_count")
	}
	if b.ConfidenceThreshold != nil {
		switch *b.ConfidenceThreshold {
		case "low", "medium", "high", "very_high":
			p.ConfidenceThreshold = *b.ConfidenceThreshold
		default:
			return invalid("confidence_threshold must be low, medium, high or very_high", "body", "confidence_threshold")
		}
	}
	if p.ConfidenceThreshold == "" {
		p.ConfidenceThreshold = dlpDefaultConfidence
	}
	if b.AIContextEnabled != nil {
		p.AIContextEnabled = *b.AIContextEnabled
	}
	if b.OCREnabled != nil {
		p.OCREnabled = *b.OCREnabled
	}
	if present(b.ContextAwareness) {
		var ca struct {
			Enabled *bool `json:"enabled"`
		}
		if json.Unmarshal(b.ContextAwareness, &ca) != nil || ca.Enabled == nil {
			return invalid("context_awareness must be an object {enabled, skip: {files}}", "body", "context_awareness")
		}
		p.ContextAwareness = append(json.RawMessage(nil), b.ContextAwareness...)
	}
	if b.Entries != nil {
		if len(*b.Entries) > maxDLPEntries {
			return invalid(fmt.Sprintf("entries: at most %d entries per profile", maxDLPEntries), "body", "entries")
		}
		byID := map[string]DLPEntry{}
		if old != nil {
			for _, e := range old.Entries {
				byID[e.ID] = e
			}
		}
		seen := map[string]bool{}
		p.Entries = make([]DLPEntry, 0, len(*b.Entries))
		for i, raw := range *b.Entries {
			e, err := dlpEntry(raw, i, old != nil, byID, seen, now)
			if err != nil {
				return err
			}
			p.Entries = append(p.Entries, e)
		}
	}
	if p.Entries == nil {
		p.Entries = []DLPEntry{}
	}
	if b.SharedEntries != nil {
		if len(*b.SharedEntries) > maxDLPSharedEntries {
			return invalid(fmt.Sprintf("shared_entries: at most %d entries per profile", maxDLPSharedEntries), "body", "shared_entries")
		}
		seen := map[string]bool{}
		p.SharedEntries = make([]DLPSharedEntry, 0, len(*b.SharedEntries))
		for i, raw := range *b.SharedEntries {
			at := "shared_entries[" + strconv.Itoa(i) + "]"
			path := func(f ...string) []string {
				return append([]string{"body", "shared_entries", strconv.Itoa(i)}, f...)
			}
			var sb dlpSharedBody
			if json.Unmarshal(raw, &sb) != nil {
				return invalid(at+" must be an object {entry_id, enabled}", path()...)
			}
			if sb.EntryID == nil {
				return invalid(at+".entry_id is required: the id of a predefined entry", path("entry_id")...)
			}
			if _, _, ok := PredefinedDLPEntry(*sb.EntryID); !ok {
				return invalid(at+".entry_id "+strconv.Quote(*sb.EntryID)+" is no predefined entry (GET /accounts/{account_id}/dlp/profiles lists them)", path("entry_id")...)
			}
			if sb.EntryType != nil && *sb.EntryType != dlp.TypePredefined {
				return invalid(at+".entry_type must be predefined (integration, exact_data and document fingerprint entries do not exist here)", path("entry_type")...)
			}
			if seen[*sb.EntryID] {
				return invalid(at+".entry_id "+strconv.Quote(*sb.EntryID)+" is listed twice", path("entry_id")...)
			}
			seen[*sb.EntryID] = true
			p.SharedEntries = append(p.SharedEntries, DLPSharedEntry{EntryID: *sb.EntryID, Enabled: sb.Enabled == nil || *sb.Enabled, EntryType: dlp.TypePredefined})
		}
	}
	if p.SharedEntries == nil {
		p.SharedEntries = []DLPSharedEntry{}
	}
	// The engine's own compiler has the last word: what is stored always compiles.
	if _, err := dlp.Compile([]dlp.Profile{p.Detector()}); err != nil {
		return invalid("entries cannot be compiled: "+err.Error(), "body", "entries")
	}
	return nil
}

// dlpEntry reads entries[i]: a regex entry ({name, pattern: {regex, validation}, enabled}) or a
// word list ({name, words, enabled}). On update, entry_id names the stored entry it replaces
// (keeping its id); without it the entry is new.
func dlpEntry(raw json.RawMessage, i int, update bool, byID map[string]DLPEntry, seen map[string]bool, now time.Time) (DLPEntry, *Error) {
	at := "entries[" + strconv.Itoa(i) + "]"
	path := func(f ...string) []string { return append([]string{"body", "entries", strconv.Itoa(i)}, f...) }
	var b dlpEntryBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return DLPEntry{}, invalid(at+" must be an object {name, enabled, pattern: {regex}} or {name, enabled, words}", path()...)
	}
	e := DLPEntry{ID: uuid.NewString(), Enabled: true, CreatedAt: now, UpdatedAt: now}
	var prev *DLPEntry
	if b.EntryID != nil && update {
		o, found := byID[*b.EntryID]
		if !found {
			return e, invalid(at+".entry_id "+strconv.Quote(*b.EntryID)+" is no entry of this profile (leave it out to add an entry)", path("entry_id")...)
		}
		if seen[o.ID] {
			return e, invalid(at+".entry_id "+strconv.Quote(*b.EntryID)+" is listed twice", path("entry_id")...)
		}
		seen[o.ID] = true
		prev = &o
		e.ID, e.CreatedAt = o.ID, o.CreatedAt
	}
	if b.Name == nil || strings.TrimSpace(*b.Name) == "" || utf8.RuneCountInString(*b.Name) > maxNameLen {
		return e, invalid(at+".name is required (1-200 characters)", path("name")...)
	}
	e.Name = strings.TrimSpace(*b.Name)
	if b.Description != nil {
		if len(*b.Description) > maxDLPDescription {
			return e, invalid(fmt.Sprintf("%s.description must be at most %d bytes", at, maxDLPDescription), path("description")...)
		}
		e.Description = *b.Description
	}
	if b.Enabled != nil {
		e.Enabled = *b.Enabled
	}
	hasPattern, hasWords := present(b.Pattern), present(b.Words)
	switch {
	case hasPattern && hasWords:
		return e, invalid(at+" takes either pattern (a regex entry) or words (a word list), not both", path()...)
	case hasPattern:
		var pb dlpPatternBody
		if json.Unmarshal(b.Pattern, &pb) != nil {
			return e, invalid(at+".pattern must be an object {regex, validation}", path("pattern")...)
		}
		if pb.Regex == nil || *pb.Regex == "" {
			return e, invalid(at+".pattern.regex is required", path("pattern", "regex")...)
		}
		rx := *pb.Regex
		if len(rx) > maxDLPRegex {
			return e, invalid(fmt.Sprintf("%s.pattern.regex must be at most %d bytes", at, maxDLPRegex), path("pattern", "regex")...)
		}
		re, err := regexp.Compile(rx)
		if err != nil {
			return e, invalid(at+".pattern.regex is not a valid RE2 regular expression: "+err.Error(), path("pattern", "regex")...)
		}
		if re.MatchString("") {
			return e, invalid(at+".pattern.regex "+strconv.Quote(rx)+" matches the empty string, so it would match every text", path("pattern", "regex")...)
		}
		e.Type, e.Pattern = dlp.TypeCustom, &DLPPattern{Regex: rx}
		if pb.Validation != nil && *pb.Validation != "" {
			if *pb.Validation != "luhn" {
				return e, invalid(at+".pattern.validation must be luhn (or absent)", path("pattern", "validation")...)
			}
			e.Pattern.Validation = "luhn"
		}
	case hasWords:
		var words []string
		if json.Unmarshal(b.Words, &words) != nil || len(words) == 0 || len(words) > maxDLPWords {
			return e, invalid(fmt.Sprintf("%s.words must be a list of 1-%d words", at, maxDLPWords), path("words")...)
		}
		for j, w := range words {
			w = strings.TrimSpace(w)
			if w == "" || len(w) > maxDLPWord || !utf8.ValidString(w) {
				return e, invalid(fmt.Sprintf("%s.words[%d] must be 1-%d bytes of text", at, j, maxDLPWord), path("words", strconv.Itoa(j))...)
			}
			words[j] = w
		}
		e.Type, e.Words = dlp.TypeWordList, words
	default:
		return e, invalid(at+" needs pattern: {regex} (a regex entry) or words (a word list)", path("pattern")...)
	}
	if prev != nil {
		e.UpdatedAt = prev.UpdatedAt
		if string(mustJSON(withoutTimes(*prev))) != string(mustJSON(withoutTimes(e))) {
			e.UpdatedAt = now
		}
	}
	return e, nil
}

// present reports whether a field was sent with a value other than null.
func present(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return t != "" && t != "null"
}

func withoutTimes(e DLPEntry) DLPEntry {
	e.CreatedAt, e.UpdatedAt = time.Time{}, time.Time{}
	return e
}

func dlpProfileNotFound() *Error { return notFound("DLP profile", "path", "profile_id") }

// checkDLPName refuses a name another custom profile of the account has.
func checkDLPName(snap *Snapshot, p *DLPProfile) *Error {
	for _, o := range snap.DLPProfiles(p.AccountID) {
		if o.ID != p.ID && strings.EqualFold(o.Name, p.Name) {
			return &Error{Status: 409, Code: CodeConflict, Message: "a DLP profile named " + strconv.Quote(p.Name) + " already exists", Path: []string{"body", "name"}}
		}
	}
	return nil
}

// CreateDLPProfile creates a custom DLP profile from a hosted create body.
func (s *Service) CreateDLPProfile(ctx context.Context, actor events.Actor, acct string, body []byte) (*DLPProfile, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		now := s.Now().UTC()
		p := DLPProfile{ID: uuid.NewString(), AccountID: acct, CreatedAt: now, UpdatedAt: now}
		if e := applyDLPBody(&p, nil, body, now); e != nil {
			return nil, e
		}
		if len(snap.DLPProfiles(acct)) >= maxDLPProfiles {
			return nil, invalid(fmt.Sprintf("an account has at most %d custom DLP profiles", maxDLPProfiles), "body")
		}
		if e := checkDLPName(snap, &p); e != nil {
			return nil, e
		}
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResDLPProfile, ResourceID: p.ID,
			AccountID: acct, Old: []byte("null"), New: mustJSON(p)}, result: &p}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*DLPProfile), nil
}

// UpdateDLPProfile applies a hosted update body (PUT): fields present replace the stored ones;
// entries, when present, replace the profile's entries (entry_id keeps an entry's id), and
// shared_entries likewise.
func (s *Service) UpdateDLPProfile(ctx context.Context, actor events.Actor, acct, id string, body []byte) (*DLPProfile, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.DLPProfile(acct, id)
		if old == nil {
			return nil, dlpProfileNotFound()
		}
		var p DLPProfile
		if err := json.Unmarshal(mustJSON(old), &p); err != nil { // a deep copy
			return nil, writeFailed(err)
		}
		now := s.Now().UTC()
		if e := applyDLPBody(&p, old, body, now); e != nil {
			return nil, e
		}
		p.ID, p.AccountID, p.CreatedAt, p.UpdatedAt = old.ID, acct, old.CreatedAt, now
		if e := checkDLPName(snap, &p); e != nil {
			return nil, e
		}
		return &change{ev: events.ConfigChanged{Action: "update", Resource: ResDLPProfile, ResourceID: id,
			AccountID: acct, Old: mustJSON(old), New: mustJSON(p)}, result: &p}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*DLPProfile), nil
}

// DeleteDLPProfile deletes a custom profile, unless a gateway's dlp setting names it (enabled
// or not: a stale id would make every later update of that gateway fail).
func (s *Service) DeleteDLPProfile(ctx context.Context, actor events.Actor, acct, id string) (*DLPProfile, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.DLPProfile(acct, id)
		if old == nil {
			return nil, dlpProfileNotFound()
		}
		if users := snap.DLPProfileUsers(acct, id); len(users) > 0 {
			return nil, &Error{Status: 409, Code: CodeConflict, Path: []string{"path", "profile_id"},
				Message: "DLP profile " + id + " is used by the dlp setting of gateway " + join(users) + "; remove it from there first"}
		}
		return &change{ev: events.ConfigChanged{Action: "delete", Resource: ResDLPProfile, ResourceID: id,
			AccountID: acct, Old: mustJSON(old), New: []byte("null")}, result: old}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*DLPProfile), nil
}

// ---- snapshot ----

// DLPProfile returns an account's custom DLP profile by id, or nil.
func (s *Snapshot) DLPProfile(acct, id string) *DLPProfile {
	if p := s.dlpProfiles[id]; p != nil && p.AccountID == acct {
		return p
	}
	return nil
}

// DLPProfiles lists an account's custom DLP profiles, oldest first.
func (s *Snapshot) DLPProfiles(acct string) []*DLPProfile {
	var out []*DLPProfile
	for _, p := range s.dlpProfiles {
		if p.AccountID == acct {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// DLPProfilesVersion changes whenever one of the account's custom profiles is created,
// updated or deleted (it is the sequence of that event): compiled policies keyed on it are
// rebuilt when a profile changes.
func (s *Snapshot) DLPProfilesVersion(acct string) uint64 { return s.dlpVersion[acct] }

// DLPProfileUsers lists the gateways of acct whose dlp setting names profile id, sorted.
func (s *Snapshot) DLPProfileUsers(acct, id string) []string {
	var out []string
	for _, g := range s.Gateways(acct) {
		if !setRaw(g.DLP) {
			continue
		}
		var b dlpBody
		if json.Unmarshal(g.DLP, &b) != nil {
			continue
		}
		lists := []json.RawMessage{b.Profiles}
		if b.Policies != nil {
			var ps []dlpPolicyBody
			_ = json.Unmarshal(*b.Policies, &ps)
			for _, p := range ps {
				lists = append(lists, p.Profiles)
			}
		}
		for _, l := range lists {
			var ids []string
			_ = json.Unmarshal(l, &ids)
			if containsString(ids, id) {
				out = append(out, g.ID)
				break
			}
		}
	}
	return out
}

func containsString(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// applyDLPProfile applies a dlp_profile event to the next snapshot (whose Seq is the event's).
func (s *Snapshot) applyDLPProfile(c events.ConfigChanged) error {
	delete(s.dlpProfiles, c.ResourceID)
	s.dlpVersion[c.AccountID] = s.Seq
	if c.Action == "delete" {
		return nil
	}
	var p DLPProfile
	if err := json.Unmarshal(c.New, &p); err != nil {
		return err
	}
	s.dlpProfiles[p.ID] = &p
	return nil
}
