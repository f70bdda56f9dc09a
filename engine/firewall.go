// firewall.go applies a gateway's DLP policies to a request before anything is sent
// upstream (CheckRequest) and to the answer before the client gets it (CheckResponse).
// The scanning itself (profiles, detectors, the text of a body) is engine/dlp. FLAG
// records what matched; BLOCK answers 2029 (request) or 2030 (response); REDACT, beyond
// the reference, masks the matched text and goes on, recorded like FLAG. Findings go in
// the cf-aig-dlp header (DLPHeader) and the request.finished event.
package engine

import (
	"bufio"
	"bytes"
	"slices"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/engine/dlp"
	"github.com/switchyard/switchyard/events"
)

// DLP actions, from the weakest.
const (
	DLPFlag   = "FLAG"
	DLPRedact = "REDACT"
	DLPBlock  = "BLOCK"
)

// The reference's messages for blocked requests and answers.
const (
	dlpRequestBlocked  = "Request content blocked due to DLP policy violations"
	dlpResponseBlocked = "Response content blocked due to DLP policy violations"
)

// DLPPolicy is one enabled policy of a gateway.
type DLPPolicy struct {
	ID                string
	Profiles          []string
	Action            string
	Request, Response bool
}

// DLPCheck is a gateway's DLP policies compiled: one scanner over every profile they name
// (one pass over the text whatever the number of policies), and one over the profiles of
// REDACT policies to mask them. It is immutable and safe for concurrent use.
type DLPCheck struct {
	policies          []DLPPolicy
	scan, redact      *dlp.Scanner
	Request, Response bool // some policy checks that side
}

// NewDLPCheck compiles policies; profile finds a profile by id (false: unknown, skipped).
func NewDLPCheck(policies []DLPPolicy, profile func(id string) (dlp.Profile, bool)) (*DLPCheck, error) {
	c := &DLPCheck{policies: policies}
	var all, masked []dlp.Profile
	seen, seenMasked := map[string]bool{}, map[string]bool{}
	for _, p := range policies {
		c.Request = c.Request || p.Request
		c.Response = c.Response || p.Response
		for _, id := range p.Profiles {
			pr, ok := profile(id)
			if !ok {
				continue
			}
			if !seen[id] {
				seen[id] = true
				all = append(all, pr)
			}
			if p.Action == DLPRedact && !seenMasked[id] {
				seenMasked[id] = true
				masked = append(masked, pr)
			}
		}
	}
	var err error
	if c.scan, err = dlp.Compile(all); err != nil {
		return nil, err
	}
	if len(masked) > 0 {
		if c.redact, err = dlp.Compile(masked); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// evaluate scans text against the policies that check side and answers the findings (each
// matched profile with the policies naming it) and the strongest action among them.
func (c *DLPCheck) evaluate(text []byte, side string) ([]events.DLPFinding, string) {
	found := c.scan.Scan(text)
	if len(found) == 0 {
		return nil, ""
	}
	var out []events.DLPFinding
	action := ""
	for _, f := range found {
		var ids []string
		for _, p := range c.policies {
			if (side == "REQUEST" && !p.Request) || (side == "RESPONSE" && !p.Response) || !slices.Contains(p.Profiles, f.ProfileID) {
				continue
			}
			ids = append(ids, p.ID)
			action = stronger(action, p.Action)
		}
		if len(ids) > 0 {
			out = append(out, events.DLPFinding{Profile: events.DLPProfileMatch{ProfileID: f.ProfileID, EntryIDs: f.EntryIDs},
				PolicyIDs: ids, Check: side})
		}
	}
	return out, action
}

func stronger(a, b string) string {
	rank := map[string]int{"": 0, DLPFlag: 1, DLPRedact: 2, DLPBlock: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// record adds findings to the request's DLP result.
func (r *Request) recordDLP(found []events.DLPFinding, action string) {
	if len(found) == 0 {
		return
	}
	if r.DLPResult == nil {
		r.DLPResult = &events.DLPResult{}
	}
	r.DLPResult.Findings = append(r.DLPResult.Findings, found...)
	r.DLPResult.Action = stronger(r.DLPResult.Action, action)
}

// CheckRequest scans what the client sent (the whole body: provider calls, /compat and
// universal steps alike) before anything is sent. BLOCK fails the request with 2029;
// REDACT masks the matches in every body that goes upstream. A match REDACT cannot mask
// (split across JSON escapes) blocks instead.
func (c *DLPCheck) CheckRequest(req *Request) {
	if c == nil || !c.Request || req.Fail != nil || len(req.Body) == 0 {
		return
	}
	found, action := c.evaluate(dlp.Text(req.Body, req.CType), "REQUEST")
	if action == DLPRedact {
		req.Body = c.mask(req.Body)
		for _, t := range append([]*Target{&req.Target}, req.Steps...) {
			if t.Send != nil {
				t.Send = c.mask(t.Send)
			}
			if t.Compat != nil {
				t.Compat.Body = c.mask(t.Compat.Body)
			}
		}
		if c.unmasked(req.Body, req.CType, "REQUEST") {
			action = DLPBlock
		}
	}
	req.recordDLP(found, action)
	if action == DLPBlock {
		req.Fail = Errorf(400, CodeDLPRequest, dlpRequestBlocked)
	}
}

// mask redacts the matches of REDACT policies' profiles in b.
func (c *DLPCheck) mask(b []byte) []byte {
	if c.redact == nil {
		return b
	}
	out, _ := c.redact.Redact(b)
	return out
}

// unmasked reports a REDACT policy's match still in body after masking.
func (c *DLPCheck) unmasked(body []byte, ctype, side string) bool {
	if c.redact == nil {
		return false
	}
	found, _ := c.evaluate(dlp.Text(body, ctype), side)
	for _, f := range found {
		for _, id := range f.PolicyIDs {
			for _, p := range c.policies {
				if p.ID == id && p.Action == DLPRedact {
					return true
				}
			}
		}
	}
	return false
}

// CheckResponse scans a successful answer before the client gets any of it. A streamed
// answer is first read whole (the reference's behaviour: DLP on responses buffers
// streams). BLOCK replaces the answer with 2030; REDACT masks it. It must be called after
// Dispatch and before the answer is written.
func (c *DLPCheck) CheckResponse(x *Exchange) {
	if c == nil || !c.Response || x.Err != nil || x.Status < 200 || x.Status >= 300 {
		return
	}
	if x.Streaming() {
		x.buffer()
		if x.Err != nil {
			return
		}
	}
	found, action := c.evaluate(dlp.Text(x.Body, x.RespCType), "RESPONSE")
	if action == DLPRedact {
		x.Body = c.mask(x.Body)
		if c.unmasked(x.Body, x.RespCType, "RESPONSE") {
			action = DLPBlock
		}
	}
	x.Req.recordDLP(found, action)
	if action == DLPBlock {
		x.Fail(Errorf(400, CodeDLPResponse, dlpResponseBlocked))
	}
}

// buffer reads a streamed answer whole into Body (counting usage and capturing it for
// the log as Relay does); the exchange then answers like an unstreamed one. A stream cut
// upstream becomes the gateway's 502 (code 2010): nothing has reached the client yet.
func (x *Exchange) buffer() {
	var b bytes.Buffer
	w := bufio.NewWriterSize(&b, 4<<10)
	x.Relay(w)
	_ = w.Flush()
	x.buffered = true
	if x.Err != nil {
		e := x.Err
		x.cut = false
		x.Fail(e)
		return
	}
	x.Body = b.Bytes()
}

// Buffered reports an answer streamed upstream and read whole by the gateway (DLP on
// responses) before it was sent: the client asked for a stream and gets it in one piece.
func (x *Exchange) Buffered() bool { return x.buffered }

// DLPHeader is the cf-aig-dlp header value of the request's findings, "" when none.
func (r *Request) DLPHeader() string {
	if r.DLPResult == nil {
		return ""
	}
	b, err := json.Marshal(r.DLPResult)
	if err != nil {
		return ""
	}
	return string(b)
}
