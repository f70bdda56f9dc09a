// scan.go: the single-pass built-in scanner. One loop walks the text token by token using a
// byte-class table; only where a token can start a detection (a digit run, '@', a known key
// prefix, "-----BEGIN", an upper-case id shape, a keyword) does it look further, and candidates
// are then confirmed by their check digits. Detectors that would flag too many ordinary numbers
// (routing, passport, licence, BSN, NHS, NPI, MRN, unformatted SSN/SIN/Aadhaar, AWS secrets)
// only fire within `window` bytes of a keyword, before or after the candidate.
package dlp

import (
	"bytes"
	"encoding/base64"
)

// span is one match, in byte offsets of the scanned text.
type span struct {
	start, end int
	d          det
}

const (
	clsNone byte = iota
	clsLower
	clsUpper
	clsDigit
	clsAt
	clsDash
	clsPlus
	clsParen
)

var class = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clsLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = clsUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = clsDigit
	}
	t['@'] = clsAt
	t['-'] = clsDash
	t['+'] = clsPlus
	t['('] = clsParen
	return
}()

func isDigit(c byte) bool { return c-'0' < 10 }
func isUpper(c byte) bool { return c-'A' < 26 }
func isLower(c byte) bool { return c-'a' < 26 }
func isAlpha(c byte) bool { return (c|0x20)-'a' < 26 }
func isAlnum(c byte) bool { return class[c] >= clsLower && class[c] <= clsDigit }

// keyChar: characters of API keys and tokens.
func keyChar(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// b64Char: characters of standard base64 (AWS secrets).
func b64Char(c byte) bool { return isAlnum(c) || c == '/' || c == '+' }

// window is how far (in bytes) a keyword may be from a candidate that needs one.
const window = 64

// qualWindow is how far a qualifier ("medical") may be before the word it qualifies ("record").
const qualWindow = 24

// kind is a keyword context.
type kind uint8

const (
	kNone kind = iota
	kRouting
	kSSN
	kSIN
	kAadhaar
	kBSN
	kNHS
	kNPI
	kMRN
	kPassport
	kDriving
	kAWS
	kMedQ     // "medical" (qualifies "record")
	kPatientQ // "patient" (qualifies "id", "number", "no")
	kAWSQ     // "aws" (qualifies "secret")
	kNatQ     // "national" (qualifies "provider")
	kStreet   // a street suffix (Street, Ave, ...): triggers the address look-back
	numKinds
)

type kwInfo struct{ k, qual kind }

var keywords = map[string]kwInfo{
	"routing": {kRouting, 0}, "aba": {kRouting, 0}, "rtn": {kRouting, 0}, "abartn": {kRouting, 0},
	"ssn": {kSSN, 0}, "ssns": {kSSN, 0}, "social": {kSSN, 0}, "itin": {kSSN, 0},
	"sin": {kSIN, 0}, "insurance": {kSIN, 0}, "nas": {kSIN, 0},
	"aadhaar": {kAadhaar, 0}, "aadhar": {kAadhaar, 0}, "uidai": {kAadhaar, 0},
	"bsn": {kBSN, 0}, "burgerservicenummer": {kBSN, 0}, "sofinummer": {kBSN, 0},
	"nhs": {kNHS, 0},
	"npi": {kNPI, 0}, "national": {kNatQ, 0}, "provider": {kNPI, kNatQ},
	"mrn": {kMRN, 0}, "medical": {kMedQ, 0}, "record": {kMRN, kMedQ}, "records": {kMRN, kMedQ},
	"patient": {kPatientQ, 0}, "id": {kMRN, kPatientQ}, "number": {kMRN, kPatientQ}, "no": {kMRN, kPatientQ},
	"passport": {kPassport, 0}, "passports": {kPassport, 0}, "passeport": {kPassport, 0},
	"reisepass": {kPassport, 0}, "pasaporte": {kPassport, 0}, "passaporto": {kPassport, 0}, "paspoort": {kPassport, 0},
	"driver": {kDriving, 0}, "drivers": {kDriving, 0}, "driving": {kDriving, 0}, "licence": {kDriving, 0},
	"license": {kDriving, 0}, "licences": {kDriving, 0}, "licenses": {kDriving, 0}, "dl": {kDriving, 0},
	"dln": {kDriving, 0}, "fuhrerschein": {kDriving, 0}, "fuehrerschein": {kDriving, 0}, "permis": {kDriving, 0},
	"aws": {kAWSQ, 0}, "secret": {kAWS, kAWSQ}, "secretaccesskey": {kAWS, 0},
	// Street suffixes (US): the word must start with an upper-case letter.
	"street": {kStreet, 0}, "st": {kStreet, 0}, "avenue": {kStreet, 0}, "ave": {kStreet, 0},
	"road": {kStreet, 0}, "rd": {kStreet, 0}, "boulevard": {kStreet, 0}, "blvd": {kStreet, 0},
	"lane": {kStreet, 0}, "ln": {kStreet, 0}, "drive": {kStreet, 0}, "dr": {kStreet, 0},
	"court": {kStreet, 0}, "ct": {kStreet, 0}, "way": {kStreet, 0}, "place": {kStreet, 0},
	"pl": {kStreet, 0}, "terrace": {kStreet, 0}, "parkway": {kStreet, 0}, "pkwy": {kStreet, 0},
	"circle": {kStreet, 0}, "cir": {kStreet, 0}, "highway": {kStreet, 0}, "hwy": {kStreet, 0},
	"square": {kStreet, 0}, "sq": {kStreet, 0}, "trail": {kStreet, 0}, "trl": {kStreet, 0},
}

const maxKeyword = 24

// kwFilter[len][first letter] has bit (last letter - 'a') set when some keyword has that
// length, first and last letter: nearly every ordinary word is rejected without a map lookup.
var kwFilter = func() (f [maxKeyword + 1][26]uint32) {
	for w := range keywords {
		f[len(w)][w[0]-'a'] |= 1 << (w[len(w)-1] - 'a')
	}
	return
}()

type pending struct {
	start, end int
	k          kind
	d          det
}

const maxPending = 16

// state is the scanner's per-call state; it lives on the stack.
type state struct {
	t       []byte
	enabled uint64
	found   uint64
	spans   *[]span
	kw      [numKinds]int // end offset + 1 of the last keyword of each kind; 0 = none yet
	pend    [maxPending]pending
	npend   int
	noEnd   int // no PEM END line starts before this offset
}

func (st *state) emit(d det, s, e int) {
	if st.enabled&(1<<d) == 0 {
		return
	}
	st.found |= 1 << d
	if st.spans != nil {
		*st.spans = append(*st.spans, span{s, e, d})
	}
}

func (st *state) on(d det) bool { return st.enabled&(1<<d) != 0 }

// near reports whether a keyword of kind k ended at most window bytes before s.
func (st *state) near(k kind, s int) bool {
	p := st.kw[k]
	return p != 0 && s-(p-1) <= window
}

// needKW emits d for [s,e) if a keyword of kind k is near, or remembers it until one follows.
func (st *state) needKW(k kind, d det, s, e int) {
	if !st.on(d) {
		return
	}
	if st.near(k, s) {
		st.emit(d, s, e)
		return
	}
	if st.npend == maxPending { // drop the oldest
		copy(st.pend[:], st.pend[1:])
		st.npend--
	}
	st.pend[st.npend] = pending{s, e, k, d}
	st.npend++
}

// mark records a keyword of kind k at [s,e) and resolves the pending candidates it confirms.
func (st *state) mark(k kind, s, e int) {
	st.kw[k] = e + 1
	j := 0
	for i := 0; i < st.npend; i++ {
		p := st.pend[i]
		if s-p.end > window {
			continue // too old for any later keyword too
		}
		if p.k == k {
			st.emit(p.d, p.start, p.end)
			continue
		}
		st.pend[j] = p
		j++
	}
	st.npend = j
}

// scanBuiltin runs the built-in detectors enabled in mask over t and returns the set that
// matched; with spans non-nil it also appends every match.
func scanBuiltin(t []byte, mask uint64, spans *[]span) uint64 {
	st := state{t: t, enabled: mask, spans: spans}
	n := len(t)
	i := 0
	for i < n {
		switch class[t[i]] {
		case clsNone:
			i++
		case clsLower, clsUpper:
			i = st.word(i)
		case clsDigit:
			i = st.digitWord(i)
		case clsAt:
			i = st.email(i)
		case clsDash:
			i = st.pem(i)
		case clsPlus, clsParen:
			if i+1 < n && isDigit(t[i+1]) && (i == 0 || !isAlnum(t[i-1])) {
				i = st.numeric(i)
			} else {
				i++
			}
		}
	}
	return st.found
}

// alnumEnd returns the end of the letters-and-digits run at s and how many digits it has.
func (st *state) alnumEnd(s int) (e, nd int) {
	t := st.t
	e = s
	for e < len(t) {
		c := class[t[e]]
		if c == clsDigit {
			nd++
		} else if c != clsLower && c != clsUpper {
			break
		}
		e++
	}
	return
}

// word handles a token starting with a letter.
func (st *state) word(s int) int {
	t := st.t
	e, nd := st.alnumEnd(s)
	if s > 0 && (t[s-1] == '_' || t[s-1] == '-') {
		// inside an identifier such as foo_bar or x-y: only keywords, no ids or keys
		if nd == 0 {
			st.keyword(s, e)
		}
		return e
	}
	switch t[s] {
	case 's', 'r', 'A', 'g', 'x', 'e':
		if end := st.credential(s); end > 0 {
			return end
		}
	}
	if e-s >= 16 || (e < len(t) && (t[e] == '/' || t[e] == '+')) {
		st.awsSecret(s)
	}
	if nd == 0 {
		st.keyword(s, e)
		if e-s == 2 && isUpper(t[s]) && isUpper(t[s+1]) {
			if end := st.ninoSpaced(s); end > 0 {
				return end
			}
		}
		if e-s == 16 && st.on(detCodiceFiscale) && codiceFiscaleValid(t[s:e]) {
			st.emit(detCodiceFiscale, s, e)
		}
		return e
	}
	if end := st.alnumID(s, e, nd); end > e {
		return end
	}
	return e
}

// digitWord handles a token starting with a digit.
func (st *state) digitWord(s int) int {
	t := st.t
	e, nd := st.alnumEnd(s)
	if e-s >= 16 || (e < len(t) && (t[e] == '/' || t[e] == '+')) {
		st.awsSecret(s)
	}
	if nd == e-s {
		return st.numeric(s)
	}
	if end := st.alnumID(s, e, nd); end > e {
		return end
	}
	return e
}

// keyword looks the word [s,e) up in the keyword table.
func (st *state) keyword(s, e int) {
	l := e - s
	if l > maxKeyword {
		return
	}
	t := st.t
	c, z := t[s]|0x20, t[e-1]|0x20
	if c-'a' >= 26 || z-'a' >= 26 || kwFilter[l][c-'a']&(1<<(z-'a')) == 0 {
		return
	}
	var buf [maxKeyword]byte
	for i := 0; i < l; i++ {
		b := t[s+i]
		if isUpper(b) {
			b |= 0x20
		}
		buf[i] = b
	}
	info, ok := keywords[string(buf[:l])]
	if !ok {
		return
	}
	if info.k == kStreet {
		if isUpper(t[s]) && st.on(detUSAddress) {
			st.address(s, e)
		}
		return
	}
	if info.qual != 0 {
		p := st.kw[info.qual]
		if p == 0 || s-(p-1) > qualWindow {
			return
		}
	}
	st.mark(info.k, s, e)
}

// address looks back from a street suffix at [s,e) for "<number> <Name words> <Suffix>".
func (st *state) address(s, e int) {
	t := st.t
	p := s
	names := 0
	for names <= 4 {
		// one or two spaces
		if p == 0 || t[p-1] != ' ' {
			return
		}
		p--
		if p > 0 && t[p-1] == ' ' {
			p--
		}
		we := p
		nd := 0
		for p > 0 && isAlnum(t[p-1]) {
			if isDigit(t[p-1]) {
				nd++
			}
			p--
		}
		ws := p
		w := t[ws:we]
		if len(w) == 0 {
			return
		}
		switch {
		case nd == 0 && isUpper(w[0]):
			names++
			continue
		case isDigit(w[0]) && nd == len(w) && nd <= 6,
			isDigit(w[0]) && nd == len(w)-1 && nd <= 6 && isUpper(w[len(w)-1]): // 221B
			if names == 0 {
				return
			}
			st.emit(detUSAddress, ws, e)
			return
		case isDigit(w[0]) && nd == len(w)-2 && isOrdinal(w[nd:]):
			names++ // "5th Avenue"
			continue
		}
		return
	}
}

func isOrdinal(s []byte) bool {
	if len(s) != 2 {
		return false
	}
	a, b := s[0]|0x20, s[1]|0x20
	return a == 's' && b == 't' || a == 'n' && b == 'd' || a == 'r' && b == 'd' || a == 't' && b == 'h'
}

func hasPrefix(t []byte, p string) bool {
	return len(t) >= len(p) && string(t[:len(p)]) == p
}

// runLen counts the characters accepted by ok from p.
func runLen(t []byte, p int, ok func(byte) bool) int {
	q := p
	for q < len(t) && ok(t[q]) {
		q++
	}
	return q - p
}

// mixed reports whether b has characters of at least two of: upper, lower, digit (random key
// material does; placeholders like sk-xxxx or sk-YOUR-KEY do not).
func mixed(b []byte) bool {
	var u, l, d int
	for _, c := range b {
		switch class[c] {
		case clsUpper:
			u = 1
		case clsLower:
			l = 1
		case clsDigit:
			d = 1
		}
	}
	return u+l+d >= 2
}

// afterLabel drops a short leading label such as "proj-" or "api03-" from key material.
func afterLabel(b []byte) []byte {
	if i := bytes.IndexByte(b[:min(len(b), 12)], '-'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// credential recognizes API keys and tokens by their prefix at s. It returns the end of the
// match, or 0.
func (st *state) credential(s int) int {
	t := st.t
	r := t[s:]
	n := len(t)
	switch t[s] {
	case 's':
		switch {
		case hasPrefix(r, "sk-ant-"):
			k := runLen(t, s+7, keyChar)
			if k >= 32 && mixed(afterLabel(t[s+7:s+7+k])) {
				st.emit(detAnthropic, s, s+7+k)
				return s + 7 + k
			}
		case hasPrefix(r, "sk_live_"):
			return st.stripe(s, 8)
		case hasPrefix(r, "sk-"):
			k := runLen(t, s+3, keyChar)
			if k >= 20 && mixed(afterLabel(t[s+3:s+3+k])) {
				st.emit(detOpenAI, s, s+3+k)
				return s + 3 + k
			}
		}
	case 'r':
		if hasPrefix(r, "rk_live_") {
			return st.stripe(s, 8)
		}
	case 'A':
		if hasPrefix(r, "AIza") {
			k := runLen(t, s+4, keyChar)
			if k == 35 && mixed(t[s+4:s+39]) {
				st.emit(detGoogleAPI, s, s+39)
				return s + 39
			}
		} else if hasPrefix(r, "AKIA") || hasPrefix(r, "ASIA") {
			k := runLen(t, s+4, func(c byte) bool { return isUpper(c) || isDigit(c) })
			if k == 16 && (s+20 == n || !isAlnum(t[s+20])) {
				st.emit(detAWSKeyID, s, s+20)
				st.mark(kAWS, s, s+20)
				return s + 20
			}
		}
	case 'g':
		if len(r) >= 4 && r[0] == 'g' && r[1] == 'h' && r[3] == '_' && containsByte("pousr", r[2]) {
			k := runLen(t, s+4, isAlnum)
			if k >= 36 && k <= 255 && mixed(t[s+4:s+4+k]) {
				st.emit(detGitHub, s, s+4+k)
				return s + 4 + k
			}
		} else if hasPrefix(r, "github_pat_") {
			k := runLen(t, s+11, func(c byte) bool { return isAlnum(c) || c == '_' })
			if k >= 50 && mixed(t[s+11:s+11+k]) {
				st.emit(detGitHub, s, s+11+k)
				return s + 11 + k
			}
		}
	case 'x':
		p := 0
		if len(r) >= 5 && hasPrefix(r, "xox") && containsByte("abposer", r[3]) && r[4] == '-' {
			p = 5
		} else if hasPrefix(r, "xapp-") {
			p = 5
		}
		if p > 0 {
			k := runLen(t, s+p, func(c byte) bool { return isAlnum(c) || c == '-' })
			if k >= 10 && bytes.IndexFunc(t[s+p:s+p+k], func(c rune) bool { return c >= '0' && c <= '9' }) >= 0 {
				st.emit(detSlack, s, s+p+k)
				return s + p + k
			}
		}
	case 'e':
		if hasPrefix(r, "eyJ") {
			return st.jwt(s)
		}
	}
	return 0
}

func (st *state) stripe(s, p int) int {
	k := runLen(st.t, s+p, isAlnum)
	if k >= 20 && mixed(st.t[s+p:s+p+k]) {
		st.emit(detStripe, s, s+p+k)
		return s + p + k
	}
	return 0
}

func b64urlChar(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// jwt recognizes header.payload.signature where the header decodes to a JSON object with "alg".
func (st *state) jwt(s int) int {
	t := st.t
	n := len(t)
	e1 := s + runLen(t, s, b64urlChar)
	if e1-s < 10 || e1-s > 1024 || e1 >= n || t[e1] != '.' {
		return 0
	}
	e2 := e1 + 1 + runLen(t, e1+1, b64urlChar)
	if e2-e1-1 < 2 || e2 >= n || t[e2] != '.' {
		return 0
	}
	e3 := e2 + 1 + runLen(t, e2+1, b64urlChar)
	if e3 < n && t[e3] == '.' {
		return 0
	}
	var buf [768]byte
	m, err := base64.RawURLEncoding.Decode(buf[:], t[s:e1])
	if err != nil {
		return 0
	}
	h := bytes.TrimSpace(buf[:m])
	if len(h) < 2 || h[0] != '{' || h[len(h)-1] != '}' || !bytes.Contains(h, []byte(`"alg"`)) {
		return 0
	}
	st.emit(detJWT, s, e3)
	return e3
}

// awsSecret: a run of exactly 40 base64 characters, mixed case, near an AWS keyword or key id.
func (st *state) awsSecret(s int) {
	if !st.on(detAWSSecret) {
		return
	}
	t := st.t
	if s > 0 && (b64Char(t[s-1]) || t[s-1] == '=') {
		return
	}
	k := runLen(t, s, b64Char)
	if k != 40 || (s+40 < len(t) && t[s+40] == '=') {
		return
	}
	w := t[s : s+40]
	var u, l, d int
	for _, c := range w {
		switch class[c] {
		case clsUpper:
			u = 1
		case clsLower:
			l = 1
		case clsDigit:
			d = 1
		}
	}
	if u+l+d < 3 && !(u+l == 2 && bytes.ContainsAny(w, "/+")) {
		return
	}
	st.needKW(kAWS, detAWSSecret, s, s+40)
}

// pem recognizes "-----BEGIN ... PRIVATE KEY-----" and masks through the matching END line.
func (st *state) pem(i int) int {
	t := st.t
	if !hasPrefix(t[i:], "-----BEGIN ") {
		// skip the whole dash run
		j := i + 1
		for j < len(t) && t[j] == '-' {
			j++
		}
		return j
	}
	ls := i + 11
	j := ls
	for j < len(t) && j-ls < 48 && (isUpper(t[j]) || t[j] == ' ') {
		j++
	}
	label := t[ls:j]
	if !hasPrefix(t[j:], "-----") || !(bytes.HasSuffix(label, []byte("PRIVATE KEY")) || string(label) == "PGP PRIVATE KEY BLOCK") {
		return ls
	}
	end := j + 5
	limit := min(len(t), end+64<<10)
	// st.noEnd: no "-----END " starts before it (from a failed search), so repeated headers
	// without an END line cost one search, not one each.
	from := max(end, st.noEnd)
	if from < limit {
		if k := bytes.Index(t[from:limit], []byte("-----END ")); k >= 0 {
			q := from + k + 9
			if bytes.HasPrefix(t[q:], label) && hasPrefix(t[q+len(label):], "-----") {
				end = q + len(label) + 5
			}
		} else {
			st.noEnd = max(st.noEnd, limit-8)
		}
	}
	st.emit(detPrivateKey, i, end)
	return end
}

// email expands around '@' at i: local part [A-Za-z0-9._%+-], domain of dot-separated labels
// ending in an alphabetic TLD of 2 to 24 letters.
func (st *state) email(i int) int {
	t := st.t
	if !st.on(detEmail) {
		return i + 1
	}
	s := i
	for s > 0 && i-s < 64 {
		c := t[s-1]
		if isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' {
			s--
		} else {
			break
		}
	}
	for s < i && t[s] == '.' {
		s++
	}
	if s == i || t[i-1] == '.' {
		return i + 1
	}
	// domain
	p := i + 1
	labels := 0
	lastStart, end := 0, 0
	for p < len(t) && p-i < 254 {
		ls := p
		for p < len(t) && (isAlnum(t[p]) || t[p] == '-') {
			p++
		}
		if p == ls || t[ls] == '-' || t[p-1] == '-' {
			break
		}
		labels++
		lastStart, end = ls, p
		if p+1 < len(t) && t[p] == '.' && isAlnum(t[p+1]) {
			p++
			continue
		}
		break
	}
	if labels < 2 {
		return i + 1
	}
	tld := t[lastStart:end]
	if len(tld) < 2 || len(tld) > 24 {
		return i + 1
	}
	for _, c := range tld {
		if !isAlpha(c) {
			return i + 1
		}
	}
	st.emit(detEmail, s, end)
	return end
}

// ninoSpaced: "AB 12 34 56 C".
func (st *state) ninoSpaced(s int) int {
	t := st.t
	if len(t)-s < 13 {
		return 0
	}
	w := t[s : s+13]
	if w[2] != ' ' || w[5] != ' ' || w[8] != ' ' || w[11] != ' ' {
		return 0
	}
	var b [9]byte
	b[0], b[1] = w[0], w[1]
	copy(b[2:4], w[3:5])
	copy(b[4:6], w[6:8])
	copy(b[6:8], w[9:11])
	b[8] = w[12]
	if s+13 < len(t) && isAlnum(t[s+13]) {
		return 0
	}
	if ninoValid(b[:]) {
		st.emit(detNINO, s, s+13)
		return s + 13
	}
	return 0
}

// ninoValid: UK National Insurance number, two prefix letters (with the excluded letters and
// pairs), six digits, suffix A-D.
func ninoValid(w []byte) bool {
	if len(w) != 9 || !isUpper(w[0]) || !isUpper(w[1]) || !isUpper(w[8]) || w[8] > 'D' {
		return false
	}
	for _, c := range w[2:8] {
		if !isDigit(c) {
			return false
		}
	}
	if containsByte("DFIQUV", w[0]) || containsByte("DFIOQUV", w[1]) {
		return false
	}
	switch string(w[:2]) {
	case "BG", "GB", "NK", "KN", "TN", "NT", "ZZ":
		return false
	}
	return true
}

// shape checks each byte of w against a layout: 'L' upper-case letter, 'D' digit.
func shape(w []byte, layout string) bool {
	if len(w) != len(layout) {
		return false
	}
	for i := 0; i < len(w); i++ {
		switch layout[i] {
		case 'L':
			if !isUpper(w[i]) {
				return false
			}
		case 'D':
			if !isDigit(w[i]) {
				return false
			}
		}
	}
	return true
}

// mbiValid: US Medicare Beneficiary Identifier, 11 characters C A AN N A AN N A A N N, where A
// excludes S L O I B Z.
func mbiValid(w []byte) bool {
	if len(w) != 11 || w[0] < '1' || w[0] > '9' {
		return false
	}
	a := func(c byte) bool { return isUpper(c) && !containsByte("SLOIBZ", c) }
	an := func(c byte) bool { return a(c) || isDigit(c) }
	return a(w[1]) && an(w[2]) && isDigit(w[3]) && a(w[4]) && an(w[5]) && isDigit(w[6]) &&
		a(w[7]) && a(w[8]) && isDigit(w[9]) && isDigit(w[10])
}

// ukDrivingValid: DVLA licence number SSSSS D M D DD D II C CC (16 characters).
func ukDrivingValid(w []byte) bool {
	if len(w) != 16 {
		return false
	}
	for _, c := range w[:5] {
		if !isUpper(c) && c != '9' {
			return false
		}
	}
	if !isUpper(w[0]) || !isDigit(w[5]) || !containsByte("0156", w[6]) || !isDigit(w[7]) || !isDigit(w[8]) || !isDigit(w[9]) || !isDigit(w[10]) {
		return false
	}
	day := int(w[8]-'0')*10 + int(w[9]-'0')
	if day < 1 || day > 31 {
		return false
	}
	if (!isUpper(w[11]) && w[11] != '9') || (!isUpper(w[12]) && w[12] != '9') || !isDigit(w[13]) || !isUpper(w[14]) || !isUpper(w[15]) {
		return false
	}
	return true
}

// alnumID handles a mixed letters-and-digits word [s,e): IBAN, NINO, NIE, DNI, MBI, codice
// fiscale, UK driving licence, passports, licences and record numbers near a keyword. It returns
// the end of a match that extends beyond e, or e.
func (st *state) alnumID(s, e, nd int) int {
	t := st.t
	w := t[s:e]
	l := len(w)
	if l >= 4 && isUpper(w[0]) && isUpper(w[1]) && isDigit(w[2]) && isDigit(w[3]) && st.on(detIBAN) {
		if end := st.iban(s); end > 0 {
			return end
		}
	}
	switch l {
	case 4:
		if e+9 <= len(t) && t[e] == '-' && t[e+4] == '-' && (e+9 == len(t) || !isAlnum(t[e+9])) {
			var b [11]byte
			copy(b[:4], w)
			copy(b[4:7], t[e+1:e+4])
			copy(b[7:11], t[e+5:e+9])
			if mbiValid(b[:]) {
				st.emit(detMBI, s, e+9)
				return e + 9
			}
		}
	case 8:
		if shape(w, "LLDDDDDD") {
			st.needKW(kPassport, detPassportCA, s, e)
		}
		if shape(w, "LDDDDDDD") {
			st.needKW(kPassport, detPassportIN, s, e)
		}
	case 9:
		switch {
		case ninoValid(w):
			st.emit(detNINO, s, e)
		case shape(w, "DDDDDDDDL"):
			if dniLetter(num9(w[:8])) == w[8] {
				st.emit(detDNI, s, e)
			}
		case (w[0] == 'X' || w[0] == 'Y' || w[0] == 'Z') && shape(w, "LDDDDDDDL"):
			if dniLetter(int(w[0]-'X')*10000000+num9(w[1:8])) == w[8] {
				st.emit(detNIE, s, e)
			}
		}
		if shape(w, "LDDDDDDDD") {
			st.needKW(kPassport, detPassportUSUK, s, e)
		}
		if shape(w, "DDLLDDDDD") {
			st.needKW(kPassport, detPassportFR, s, e)
		}
		if containsByte("CFGHJK", w[0]) && nd > 0 {
			ok := true
			for _, c := range w[1:] {
				if !isDigit(c) && !containsByte("CFGHJKLMNPRTVWXYZ", c) {
					ok = false
					break
				}
			}
			if ok {
				st.needKW(kPassport, detPassportDE, s, e)
			}
		}
	case 11:
		if mbiValid(w) {
			st.emit(detMBI, s, e)
		}
	case 16:
		if codiceFiscaleValid(w) {
			st.emit(detCodiceFiscale, s, e)
		}
		if ukDrivingValid(w) {
			st.emit(detDrivingUK, s, e)
		}
	}
	if nd >= 4 {
		if l >= 5 && l <= 16 {
			st.needKW(kDriving, detDriving, s, e)
		}
		if l >= 5 && l <= 12 {
			st.needKW(kMRN, detMRN, s, e)
		}
	}
	return e
}

func num9(w []byte) int {
	n := 0
	for _, c := range w {
		n = n*10 + int(c-'0')
	}
	return n
}

// iban reads an IBAN at s, unbroken or in space-separated groups, to its country's length.
func (st *state) iban(s int) int {
	t := st.t
	n := len(t)
	l := ibanLength(t[s], t[s+1])
	if l == 0 {
		return 0
	}
	var buf [34]byte
	k := 0
	p := s
	for {
		for p < n && isAlnum(t[p]) {
			if k == l || isLower(t[p]) {
				return 0
			}
			buf[k] = t[p]
			k++
			p++
		}
		if k == l {
			break
		}
		if p+1 < n && t[p] == ' ' && isAlnum(t[p+1]) {
			p++
			continue
		}
		return 0
	}
	if !ibanValid(buf[:l]) {
		return 0
	}
	st.emit(detIBAN, s, p)
	return p
}

// Separator codes between digit groups.
const (
	sepNone byte = iota
	sepSpace
	sepDash
	sepDot
	sepSlash
	sepParen // any separator involving ')' or '('
	sepMixed // window has different separators
)

const maxGroups = 16

// numseq is a run of digit groups joined by short separators, e.g. "+1 (415) 555-2671".
type numseq struct {
	start       int // including a leading '+' or '('
	plus, paren bool
	n           int
	gs, ge      [maxGroups]int
	sep         [maxGroups]byte // sep[i] joins group i and i+1
}

// numeric parses a digit sequence at s (a digit, '+' or '(') and runs the numeric detectors.
func (st *state) numeric(s int) int {
	t := st.t
	n := len(t)
	var q numseq
	q.start = s
	p := s
	if t[p] == '+' {
		q.plus = true
		p++
	} else if t[p] == '(' {
		q.paren = true
		p++
	}
	for {
		gs := p
		for p < n && isDigit(t[p]) {
			p++
		}
		if p < n && isAlpha(t[p]) { // digits run into letters: not a number group
			if q.n == 0 {
				e, nd := st.alnumEnd(gs)
				return max(st.alnumID(gs, e, nd), e)
			}
			break
		}
		q.gs[q.n], q.ge[q.n] = gs, p
		q.n++
		if q.n == maxGroups || p >= n {
			break
		}
		code, l := sepAt(t, p)
		if code == sepNone || p+l >= n || !isDigit(t[p+l]) {
			break
		}
		// the next group must be all digits up to a non-alphanumeric byte
		r := p + l
		for r < n && isDigit(t[r]) {
			r++
		}
		if r < n && isAlpha(t[r]) {
			break
		}
		q.sep[q.n-1] = code
		p += l
	}
	end := q.ge[q.n-1]
	st.checkNumeric(&q)
	// Spain DNI written with a separator before the letter: 12345678-Z
	if q.n >= 1 && q.ge[q.n-1]-q.gs[q.n-1] == 8 && end+2 <= n && (t[end] == '-' || t[end] == ' ') && isUpper(t[end+1]) &&
		(end+2 == n || !isAlnum(t[end+2])) {
		gs := q.gs[q.n-1]
		if (gs == q.start || q.n == 1) && dniLetter(num9(t[gs:end])) == t[end+1] {
			st.emit(detDNI, gs, end+2)
			return end + 2
		}
	}
	return end
}

// sepAt returns the separator code and length at p, or sepNone.
func sepAt(t []byte, p int) (byte, int) {
	c := t[p]
	var c2 byte
	if p+1 < len(t) {
		c2 = t[p+1]
	}
	switch c {
	case ' ':
		if c2 == '(' {
			return sepParen, 2
		}
		return sepSpace, 1
	case '-':
		return sepDash, 1
	case '.':
		return sepDot, 1
	case '/':
		return sepSlash, 1
	case ')':
		if c2 == ' ' || c2 == '-' {
			return sepParen, 2
		}
		return sepParen, 1
	case '(':
		return sepParen, 1
	}
	return sepNone, 0
}

// maxWindowGroups bounds the groups of one window (the NIR in groups has 7).
const maxWindowGroups = 8

// checkNumeric tries every window of consecutive groups of q with at most 19 digits and at most
// maxWindowGroups groups.
func (st *state) checkNumeric(q *numseq) {
	t := st.t
	var d [19]byte
	for a := 0; a < q.n; a++ {
		nd := 0
		sepU := sepNone
		cardSeps := true
		for b := a + 1; b <= q.n && b-a <= maxWindowGroups; b++ {
			if b > a+1 {
				c := q.sep[b-2]
				if c != sepSpace && c != sepDash {
					cardSeps = false
				}
				if sepU == sepNone {
					sepU = c
				} else if sepU != c {
					sepU = sepMixed
				}
			}
			g := q.ge[b-1] - q.gs[b-1]
			if nd+g > 19 {
				break
			}
			for p := q.gs[b-1]; p < q.ge[b-1]; p++ {
				d[nd] = t[p] - '0'
				nd++
			}
			st.window(q, a, b, d[:nd], sepU, cardSeps)
		}
	}
}

func (st *state) window(q *numseq, a, b int, dig []byte, sepU byte, cardSeps bool) {
	k := b - a
	nd := len(dig)
	s := q.gs[a]
	lead := a == 0 && (q.plus || q.paren)
	if lead {
		s = q.start
	}
	e := q.ge[b-1]

	// payment cards
	if nd >= 13 && cardSeps && !q.plus {
		if net := cardNetwork(dig); net >= 0 && luhn(dig) {
			st.emit(det(net), q.gs[a], e)
		}
	}

	// E.164: the whole sequence after '+'
	if q.plus && a == 0 && b == q.n {
		if nd >= 8 && nd <= 15 && dig[0] != 0 {
			st.emit(detPhoneE164, s, e)
		}
		return
	}
	if q.plus && a == 0 {
		return
	}

	// A formatted window must stand apart: the separators around it differ from those inside.
	clean := k == 1 || sepU != sepMixed && (a == 0 || q.sep[a-1] != sepU) && (b == q.n || q.sep[b-1] != sepU)
	gl := func(i int) int { return q.ge[a+i] - q.gs[a+i] }

	// North American phone numbers, with the (415) form.
	if !q.plus && (k == 3 || k == 4) && st.on(detPhoneNANP) {
		o := 0
		if k == 4 {
			o = 1
		}
		if (k == 3 || gl(0) == 1 && dig[0] == 1) && gl(o) == 3 && gl(o+1) == 3 && gl(o+2) == 4 && dig[o] >= 2 && dig[o+3] >= 2 {
			s1, s2 := q.sep[a+o], q.sep[a+o+1]
			ok := false
			if k == 3 && lead && q.paren {
				ok = s1 == sepParen && (s2 == sepSpace || s2 == sepDash || s2 == sepDot) && b == q.n
			} else if !(a == 0 && q.paren) {
				ok = clean && (sepU == sepSpace || sepU == sepDash || sepU == sepDot)
			}
			if ok {
				st.emit(detPhoneNANP, s, e)
			}
		}
	}

	// UK (shapes 3-4-4, 4-3-4, 5-6) and German national numbers.
	if nd >= 10 && nd <= 12 && dig[0] == 0 && dig[1] != 0 && (k == 2 || k == 3) {
		okSeps := false
		if lead && q.paren {
			okSeps = q.sep[0] == sepParen && (k == 2 || q.sep[1] == sepSpace) && b == q.n
		} else if !(a == 0 && q.paren) {
			okSeps = clean && (sepU == sepSpace || sepU == sepDash || sepU == sepSlash)
		}
		if okSeps {
			uk := nd == 11 && containsByte("\x01\x02\x03\x07", dig[1]) && sepU != sepSlash &&
				(k == 3 && (gl(0) == 3 && gl(1) == 4 && gl(2) == 4 || gl(0) == 4 && gl(1) == 3 && gl(2) == 4) ||
					k == 2 && gl(0) == 5 && gl(1) == 6)
			if uk {
				st.emit(detPhoneUK, s, e)
			} else if gl(0) >= 3 && gl(0) <= 5 && gl(1) >= 3 && (k == 2 || gl(2) >= 3) {
				st.emit(detPhoneDE, s, e)
			}
		}
	}

	if !clean {
		return
	}

	switch {
	case k == 5 && nd == 10: // France: 01 23 45 67 89
		if gl(0) == 2 && gl(1) == 2 && gl(2) == 2 && gl(3) == 2 && dig[0] == 0 && dig[1] != 0 &&
			(sepU == sepSpace || sepU == sepDot || sepU == sepDash) {
			st.emit(detPhoneFR, s, e)
		}
	case k == 2 && nd == 10: // India mobile: 98765 43210
		if gl(0) == 5 && dig[0] >= 6 && (sepU == sepSpace || sepU == sepDash) {
			st.emit(detPhoneIN, s, e)
		}
	case k == 3 && nd == 9:
		if gl(0) == 3 && gl(1) == 2 && (sepU == sepSpace || sepU == sepDash) { // SSN / ITIN
			if ssnValid(dig) {
				st.emit(detSSN, s, e)
			} else if itinValid(dig) {
				st.emit(detITIN, s, e)
			}
		}
		if gl(0) == 3 && gl(1) == 3 && (sepU == sepSpace || sepU == sepDash) && sinValid(dig) {
			st.emit(detSIN, s, e)
		}
		if gl(0) == 4 && gl(1) == 2 && sepU == sepDot && bsnValid(dig) {
			st.needKW(kBSN, detBSN, s, e)
		}
	case k == 3 && nd == 12:
		if gl(0) == 4 && gl(1) == 4 && (sepU == sepSpace || sepU == sepDash) && aadhaarValid(dig) {
			st.emit(detAadhaar, s, e)
		}
	case k == 3 && nd == 10:
		if gl(0) == 3 && gl(1) == 3 && (sepU == sepSpace || sepU == sepDash) && nhsValid(dig) {
			st.needKW(kNHS, detNHS, s, e)
		}
	case k == 1:
		switch nd {
		case 9:
			if abaValid(dig) {
				st.needKW(kRouting, detABA, s, e)
			}
			if ssnValid(dig) {
				st.needKW(kSSN, detSSN, s, e)
			} else if itinValid(dig) {
				st.needKW(kSSN, detITIN, s, e)
			}
			if sinValid(dig) {
				st.needKW(kSIN, detSIN, s, e)
			}
			if bsnValid(dig) {
				st.needKW(kBSN, detBSN, s, e)
			}
			st.needKW(kPassport, detPassportUSUK, s, e)
		case 10:
			if nhsValid(dig) {
				st.needKW(kNHS, detNHS, s, e)
			}
			if npiValid(dig) {
				st.needKW(kNPI, detNPI, s, e)
			}
		case 12:
			if aadhaarValid(dig) {
				st.needKW(kAadhaar, detAadhaar, s, e)
			}
		case 15:
			if nirValid(dig) {
				st.emit(detNIR, s, e)
			}
		}
		if nd >= 5 && nd <= 15 {
			st.needKW(kDriving, detDriving, s, e)
		}
		if nd >= 5 && nd <= 12 {
			st.needKW(kMRN, detMRN, s, e)
		}
	}
	// France NIR written in groups: 1 85 05 78 006 084 36
	if nd == 15 && k > 1 && sepU == sepSpace && nirValid(dig) {
		st.emit(detNIR, s, e)
	}
}
