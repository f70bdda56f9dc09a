// Package dlp is Switchyard's data-loss-prevention detector: predefined profiles (cards, IBANs,
// national ids, credentials, ...) with fixed entry ids, custom profiles (regexes and word lists),
// a single-pass scanner with checksum validation, redaction, and the extraction of the text a DLP
// check looks at from request and response bodies (JSON, SSE streams, multipart, plain text).
//
// dlp.go: the public types, Compile, Scan, Redact and the mapping of matches to findings.
package dlp

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Entry and profile types.
const (
	TypePredefined = "predefined"
	TypeCustom     = "custom"
	TypeWordList   = "word_list"
)

// Mask is the byte Redact writes over every byte of a match.
const Mask = '*'

// Entry is one detector of a profile, with a stable id (a fixed UUID for predefined entries) that
// appears in findings.
type Entry struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Enabled bool     `json:"enabled"`
	Type    string   `json:"type"`              // "predefined", "custom" (regex), "word_list"
	Pattern string   `json:"pattern,omitempty"` // custom: a Go RE2 regex
	Words   []string `json:"words,omitempty"`   // word_list: case-insensitive whole words
}

// Profile is an account-level DLP profile.
type Profile struct {
	ID, Name, Description string
	Type                  string // "predefined" | "custom"
	Entries               []Entry
}

// Finding is what matched in one profile.
type Finding struct {
	ProfileID string
	EntryIDs  []string // sorted, unique
}

// ref is one (profile, entry) pair a detector reports into.
type ref struct {
	prof  int // index into Scanner.profiles
	entry string
	slot  int // index into Scanner.entries: the (profile id, entry id) pair, in output order
}

type customEntry struct {
	ref
	re *regexp.Regexp
}

// Scanner scans text for the enabled entries of a set of profiles. It is immutable once built
// and safe for concurrent use.
type Scanner struct {
	builtin  uint64 // enabled built-in detectors, bit per det
	refs     [numDets][]ref
	profiles []string // profile ids, indexed by ref.prof
	custom   []customEntry
	any      *regexp.Regexp // alternation of every custom regex: one pass decides if any can match
	// entries lists every distinct (profile id, entry id) pair sorted by profile id then entry id;
	// a finding is built by marking slots, so no sorting happens per scan.
	entries []slotEntry
}

type slotEntry struct{ profile, entry string }

// Compile builds a scanner over the enabled entries of profiles. An invalid entry (an unknown
// predefined id, a custom pattern that does not compile, an unknown type) is an error naming the
// profile, the entry id and, for a regex, the pattern. A predefined entry may appear in any
// profile (custom profiles may reuse built-in detectors by id).
func Compile(profiles []Profile) (*Scanner, error) {
	s := &Scanner{}
	var alts []string
	for _, p := range profiles {
		pi := len(s.profiles)
		s.profiles = append(s.profiles, p.ID)
		for _, e := range p.Entries {
			if !e.Enabled {
				continue
			}
			switch e.Type {
			case TypePredefined:
				d, ok := builtinByID[e.ID]
				if !ok {
					return nil, fmt.Errorf("dlp: profile %q: entry %q: unknown predefined entry id", p.ID, e.ID)
				}
				s.builtin |= 1 << d
				s.refs[d] = append(s.refs[d], ref{prof: pi, entry: e.ID})
			case TypeCustom:
				if e.Pattern == "" {
					return nil, fmt.Errorf("dlp: profile %q: entry %q: empty pattern", p.ID, e.ID)
				}
				re, err := regexp.Compile(e.Pattern)
				if err != nil {
					return nil, fmt.Errorf("dlp: profile %q: entry %q: invalid pattern %q: %v", p.ID, e.ID, e.Pattern, err)
				}
				if re.MatchString("") {
					return nil, fmt.Errorf("dlp: profile %q: entry %q: pattern %q matches the empty string", p.ID, e.ID, e.Pattern)
				}
				s.custom = append(s.custom, customEntry{ref{prof: pi, entry: e.ID}, re})
				alts = append(alts, "(?:"+e.Pattern+")")
			case TypeWordList:
				pat := wordListPattern(e.Words)
				if pat == "" {
					continue // no words: matches nothing
				}
				re, err := regexp.Compile(pat)
				if err != nil {
					return nil, fmt.Errorf("dlp: profile %q: entry %q: invalid word list: %v", p.ID, e.ID, err)
				}
				s.custom = append(s.custom, customEntry{ref{prof: pi, entry: e.ID}, re})
				alts = append(alts, "(?:"+pat+")")
			default:
				return nil, fmt.Errorf("dlp: profile %q: entry %q: unknown entry type %q", p.ID, e.ID, e.Type)
			}
		}
	}
	s.assignSlots()
	if len(alts) > 0 {
		re, err := regexp.Compile(strings.Join(alts, "|"))
		if err != nil {
			return nil, fmt.Errorf("dlp: combining custom entries: %v", err)
		}
		s.any = re
	}
	return s, nil
}

// wordListPattern builds a case-insensitive regex matching any of words as a whole word: a word
// edge that is an ASCII letter, digit or '_' must not touch another one; an edge that is any
// other character (non-ASCII letters, punctuation) is matched as is.
func wordListPattern(words []string) string {
	var parts []string
	for _, w := range words {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		q := regexp.QuoteMeta(w)
		if isWordByte(w[0]) {
			q = `\b` + q
		}
		if isWordByte(w[len(w)-1]) {
			q += `\b`
		}
		parts = append(parts, q)
	}
	if len(parts) == 0 {
		return ""
	}
	return `(?i)(?:` + strings.Join(parts, "|") + `)`
}

func isWordByte(c byte) bool { return isAlnum(c) || c == '_' }

// Enabled reports whether the scanner has anything to look for.
func (s *Scanner) Enabled() bool { return s != nil && (s.builtin != 0 || len(s.custom) > 0) }

// Scan returns the findings in text (sorted by ProfileID), nil when nothing matched. Safe for
// concurrent use; it does not allocate when nothing matches.
func (s *Scanner) Scan(text []byte) []Finding {
	if s == nil {
		return nil
	}
	var found uint64
	if s.builtin != 0 {
		found = scanBuiltin(text, s.builtin, nil)
	}
	var customHit []bool
	if s.any != nil && s.any.Match(text) {
		customHit = make([]bool, len(s.custom))
		for i, c := range s.custom {
			customHit[i] = c.re.Match(text)
		}
	}
	return s.findings(found, customHit)
}

// Redact returns a copy of text with every byte of every match replaced by Mask ('*'), so the
// result has exactly the length of text (in bytes) and every byte outside a match is unchanged;
// and the findings, as Scan returns them. Built-in matches are ASCII, so valid UTF-8 stays valid
// UTF-8. When nothing matched it returns text itself (not a copy) and nil.
func (s *Scanner) Redact(text []byte) ([]byte, []Finding) {
	if s == nil {
		return text, nil
	}
	var spans []span
	var found uint64
	if s.builtin != 0 {
		found = scanBuiltin(text, s.builtin, &spans)
	}
	var customHit []bool
	if s.any != nil && s.any.Match(text) {
		customHit = make([]bool, len(s.custom))
		for i, c := range s.custom {
			for _, m := range c.re.FindAllIndex(text, -1) {
				customHit[i] = true
				spans = append(spans, span{m[0], m[1], 0})
			}
		}
	}
	f := s.findings(found, customHit)
	if len(spans) == 0 {
		return text, f
	}
	out := slices.Clone(text)
	for _, sp := range spans {
		for i := max(sp.start, 0); i < sp.end && i < len(out); i++ {
			out[i] = Mask
		}
	}
	return out, f
}

// assignSlots numbers the distinct (profile id, entry id) pairs in output order.
func (s *Scanner) assignSlots() {
	var all []slotEntry
	for d := range s.refs {
		for _, r := range s.refs[d] {
			all = append(all, slotEntry{s.profiles[r.prof], r.entry})
		}
	}
	for _, c := range s.custom {
		all = append(all, slotEntry{s.profiles[c.prof], c.entry})
	}
	cmp := func(a, b slotEntry) int {
		if c := strings.Compare(a.profile, b.profile); c != 0 {
			return c
		}
		return strings.Compare(a.entry, b.entry)
	}
	slices.SortFunc(all, cmp)
	s.entries = slices.Compact(all)
	slot := func(r ref) int {
		i, _ := slices.BinarySearchFunc(s.entries, slotEntry{s.profiles[r.prof], r.entry}, cmp)
		return i
	}
	for d := range s.refs {
		for i := range s.refs[d] {
			s.refs[d][i].slot = slot(s.refs[d][i])
		}
	}
	for i := range s.custom {
		s.custom[i].slot = slot(s.custom[i].ref)
	}
}

func (s *Scanner) findings(found uint64, customHit []bool) []Finding {
	if found == 0 && !slices.Contains(customHit, true) {
		return nil
	}
	var small [128]bool
	var hit []bool
	if len(s.entries) <= len(small) {
		hit = small[:len(s.entries)]
	} else {
		hit = make([]bool, len(s.entries))
	}
	for d := det(0); d < numDets; d++ {
		if found&(1<<d) != 0 {
			for _, r := range s.refs[d] {
				hit[r.slot] = true
			}
		}
	}
	for i, h := range customHit {
		if h {
			hit[s.custom[i].slot] = true
		}
	}
	var out []Finding
	for i, h := range hit {
		if !h {
			continue
		}
		e := s.entries[i]
		if n := len(out); n > 0 && out[n-1].ProfileID == e.profile {
			out[n-1].EntryIDs = append(out[n-1].EntryIDs, e.entry)
		} else {
			out = append(out, Finding{ProfileID: e.profile, EntryIDs: []string{e.entry}})
		}
	}
	return out
}
