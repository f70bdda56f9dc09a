// compile.go validates a route's elements and compiles them to an immutable Graph. It
// finds every problem at once, each naming its element, so an editor can show them all.
package flows

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Graph is a compiled, valid route. It never changes and is safe for concurrent walks.
type Graph struct {
	start       *Node
	nodes       []*Node
	byID        map[string]*Node
	percentages int
}

// Start is the start node.
func (g *Graph) Start() *Node { return g.start }

// Node is the node with the element id, or nil.
func (g *Graph) Node(id string) *Node { return g.byID[id] }

// Nodes are every node in element order. The slice is the caller's.
func (g *Graph) Nodes() []*Node { return append([]*Node(nil), g.nodes...) }

// Limits on what a route may say.
const (
	// MaxPercentageOutputs is how many weighted outputs a percentage element may have,
	// besides "else".
	MaxPercentageOutputs = 5
	// MaxIntervalSeconds is the longest rate_limit interval: a year.
	MaxIntervalSeconds = 365 * 24 * 3600
	// MaxRetries is the most retries a model element may ask for.
	MaxRetries = 10
	// MaxTimeoutMillis is the longest model timeout: an hour.
	MaxTimeoutMillis = 3600 * 1000
)

// weightTolerance absorbs float rounding when weights such as 33.3 + 33.3 + 33.4 add up.
const weightTolerance = 1e-9

// outputNames are the outputs each kind may have (percentage outputs are checked apart).
var outputNames = map[Kind][]string{
	KindStart:       {"next"},
	KindConditional: {"true", "false"},
	KindRateLimit:   {"success", "fallback"},
	KindModel:       {"success", "fallback"},
}

// requiredOutputs are the outputs each kind must have.
var requiredOutputs = map[Kind][]string{
	KindStart:       {"next"},
	KindConditional: {"true", "false"},
	KindRateLimit:   {"success"},
	KindModel:       {"success"},
}

// compiler holds what Compile learns about the elements, indexed like them.
type compiler struct {
	elements []Element
	kinds    []Kind // 0 when the type is unknown
	first    map[string]int
	starts   []int
	problems []located

	models     []*ModelSpec
	limits     []*LimitSpec
	conditions []*Condition
	weights    []map[string]float64 // percentage elements: output name -> weight
}

// located is a problem and the index of its element (-1 for the whole route).
type located struct {
	index int
	Problem
}

// Compile validates the elements and compiles them. It returns every problem, sorted by
// element order (problems of the whole route first), and a nil Graph when there is any.
func Compile(elements []Element) (*Graph, Problems) {
	n := len(elements)
	c := &compiler{
		elements:   elements,
		kinds:      make([]Kind, n),
		first:      make(map[string]int, n),
		models:     make([]*ModelSpec, n),
		limits:     make([]*LimitSpec, n),
		conditions: make([]*Condition, n),
		weights:    make([]map[string]float64, n),
	}
	c.checkIDsAndTypes()
	for i := range elements {
		c.checkProperties(i)
		c.checkOutputs(i)
	}
	c.checkGraph()
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(a, b int) bool { return c.problems[a].index < c.problems[b].index })
		problems := make(Problems, len(c.problems))
		for i, p := range c.problems {
			problems[i] = p.Problem
		}
		return nil, problems
	}
	return c.build(), nil
}

// add records a problem of element i (-1: the route). An element without an id is named
// by its position.
func (c *compiler) add(i int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	id := ""
	if i >= 0 {
		id = c.elements[i].ID
		if id == "" {
			msg = "element " + strconv.Itoa(i+1) + " (no id): " + msg
		}
	}
	c.problems = append(c.problems, located{index: i, Problem: Problem{ElementID: id, Message: msg}})
}

// isNode says whether element i becomes a node: it has an id no earlier element has.
func (c *compiler) isNode(i int) bool {
	id := c.elements[i].ID
	return id != "" && c.first[id] == i
}

func (c *compiler) checkIDsAndTypes() {
	for i, el := range c.elements {
		if el.ID == "" {
			c.add(i, "every element needs an id")
		} else if j, dup := c.first[el.ID]; dup {
			c.add(i, "the id is used again (first by element %d)", j+1)
		} else {
			c.first[el.ID] = i
		}
		kind, ok := ParseKind(el.Type)
		switch {
		case el.Type == "":
			c.add(i, "element has no type")
		case !ok:
			c.add(i, "unknown type %q (start, conditional, percentage, rate_limit, model, end)", el.Type)
		}
		c.kinds[i] = kind
		if kind == KindStart {
			if len(c.starts) > 0 {
				c.add(i, "a second start element (the first is %q); a route has one", c.elements[c.starts[0]].ID)
			}
			c.starts = append(c.starts, i)
		}
	}
	if len(c.starts) == 0 {
		c.add(-1, "route has no start element")
	}
}

// properties decodes an element's properties to their members; null values count as
// absent.
type properties map[string]json.RawMessage

func (p properties) present(name string) bool {
	raw, ok := p[name]
	return ok && string(raw) != "null"
}

func (p properties) text(name string) (string, bool) {
	var s string
	if firstByte(p[name]) != '"' || json.Unmarshal(p[name], &s) != nil {
		return "", false
	}
	return s, true
}

func (p properties) number(name string) (float64, bool) {
	var f float64
	raw := p[name]
	if b := firstByte(raw); b != '-' && (b < '0' || b > '9') || json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

func (c *compiler) checkProperties(i int) {
	kind := c.kinds[i]
	if kind != KindConditional && kind != KindRateLimit && kind != KindModel {
		return // start, percentage and end have no properties of their own; others are ignored
	}
	props := properties{}
	if raw := c.elements[i].Properties; len(raw) > 0 && string(raw) != "null" {
		if firstByte(raw) != '{' || json.Unmarshal(raw, &props) != nil {
			c.add(i, "properties must be a JSON object")
			return
		}
	}
	switch kind {
	case KindConditional:
		c.checkCondition(i, props)
	case KindRateLimit:
		c.checkLimit(i, props)
	case KindModel:
		c.checkModel(i, props)
	}
}

func (c *compiler) checkCondition(i int, props properties) {
	if !props.present("condition") {
		c.add(i, "conditional needs a condition")
		return
	}
	cond, err := ParseCondition(props["condition"])
	if err != nil {
		c.add(i, "condition does not compile: %s", err)
		return
	}
	c.conditions[i] = cond
}

func (c *compiler) checkLimit(i int, props properties) {
	spec := &LimitSpec{}
	ok := true
	bad := func(format string, args ...any) {
		c.add(i, format, args...)
		ok = false
	}
	switch limitType, isText := props.text("limitType"); {
	case !props.present("limitType"):
		bad(`rate_limit needs a limitType ("count" or "cost")`)
	case isText && limitType == "count":
	case isText && limitType == "cost":
		spec.Cost = true
	default:
		bad(`limitType %s is not "count" or "cost"`, string(props["limitType"]))
	}
	switch key, isText := props.text("key"); {
	case !props.present("key"):
		bad(`rate_limit needs a key, a request path such as "metadata.user_id"`)
	case !isText:
		bad("key must be a string")
	default:
		if why := checkPath(key); why != "" {
			bad("key %s", why)
		}
		spec.Key = key
	}
	switch limit, isNumber := props.number("limit"); {
	case !props.present("limit"):
		bad("rate_limit needs a limit")
	case !isNumber:
		bad("limit must be a number")
	case limit <= 0:
		bad("limit must be more than 0")
	case !spec.Cost && limit != math.Trunc(limit):
		bad("a count limit is a whole number of requests")
	default:
		spec.Limit = limit
	}
	switch interval, isNumber := props.number("interval"); {
	case !props.present("interval"):
		bad("rate_limit needs an interval in seconds")
	case !isNumber || interval != math.Trunc(interval):
		bad("interval must be a whole number of seconds")
	case interval <= 0 || interval > MaxIntervalSeconds:
		bad("interval must be from 1 to %d seconds", MaxIntervalSeconds)
	default:
		spec.Interval = secondsDuration(interval)
	}
	switch technique, isText := props.text("technique"); {
	case !props.present("technique"):
		bad(`rate_limit needs a technique ("fixed" or "sliding")`)
	case isText && technique == "fixed":
	case isText && technique == "sliding":
		spec.Sliding = true
	default:
		bad(`technique %s is not "fixed" or "sliding"`, string(props["technique"]))
	}
	if ok {
		c.limits[i] = spec
	}
}

func (c *compiler) checkModel(i int, props properties) {
	spec := &ModelSpec{}
	ok := true
	bad := func(format string, args ...any) {
		c.add(i, format, args...)
		ok = false
	}
	for _, field := range []struct {
		name string
		dst  *string
	}{{"provider", &spec.Provider}, {"model", &spec.Model}} {
		switch value, isText := props.text(field.name); {
		case !props.present(field.name) || (isText && strings.TrimSpace(value) == ""):
			bad("model needs a %s", field.name)
		case !isText:
			bad("%s must be a string", field.name)
		default:
			*field.dst = value
		}
	}
	if props.present("timeout") {
		switch timeout, isNumber := props.number("timeout"); {
		case !isNumber || timeout != math.Trunc(timeout):
			bad("timeout must be a whole number of milliseconds")
		case timeout < 0 || timeout > MaxTimeoutMillis:
			bad("timeout must be from 0 (none) to %d milliseconds", MaxTimeoutMillis)
		default:
			spec.Timeout = millisDuration(timeout)
		}
	}
	if props.present("retries") {
		switch retries, isNumber := props.number("retries"); {
		case !isNumber || retries != math.Trunc(retries) || retries < 0 || retries > MaxRetries:
			bad("retries must be a whole number from 0 to %d", MaxRetries)
		default:
			spec.Retries = int(retries)
		}
	}
	if ok {
		c.models[i] = spec
	}
}

// sortedOutputs are an element's output names in order.
func sortedOutputs(el Element) []string {
	names := make([]string, 0, len(el.Outputs))
	for name := range el.Outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (c *compiler) checkOutputs(i int) {
	el, kind := c.elements[i], c.kinds[i]
	names := sortedOutputs(el)
	if kind == KindEnd {
		if len(names) > 0 {
			c.add(i, "an end element has no outputs (it has %s)", quoteAll(names))
		}
		return
	}
	for _, name := range names {
		if kind == KindPercentage {
			c.checkPercentageOutput(i, name)
		} else if kind != 0 && !contains(outputNames[kind], name) {
			c.add(i, "unknown output %q for a %s element (its outputs are %s)", name, kind, strings.Join(outputNames[kind], ", "))
		}
		c.checkTarget(i, name)
	}
	for _, name := range requiredOutputs[kind] {
		if _, ok := el.Outputs[name]; !ok {
			c.add(i, "%s needs a %q output", kind, name)
		}
	}
	if kind == KindPercentage {
		c.checkPercentageTotal(i)
	}
}

func (c *compiler) checkTarget(i int, name string) {
	kind, target := c.kinds[i], c.elements[i].Outputs[name].ElementID
	j, exists := c.first[target]
	switch {
	case target == "":
		c.add(i, "output %q has no elementId", name)
	case !exists:
		c.add(i, "output %q leads to %q, which is not an element of the route", name, target)
	case c.kinds[j] == KindStart:
		c.add(i, "output %q leads back to the start element %q", name, target)
	case kind == KindModel && name == "success" && c.kinds[j] != KindEnd && c.kinds[j] != 0:
		c.add(i, "a model's success output must lead directly to an end element, not to %s %q: the model's answer is already streaming to the client, nothing can run after it", article(c.kinds[j]), target)
	}
}

func (c *compiler) checkPercentageOutput(i int, name string) {
	if name == "else" {
		return
	}
	weight, ok := parseWeight(name)
	switch {
	case !ok:
		c.add(i, `output %q is not a percentage such as "10%%" or "12.5%%", nor "else"`, name)
		return
	case weight <= 0:
		c.add(i, "output %q has no weight: a percentage must be more than 0", name)
		return
	}
	if c.weights[i] == nil {
		c.weights[i] = map[string]float64{}
	}
	c.weights[i][name] = weight
}

func (c *compiler) checkPercentageTotal(i int) {
	weights := c.weights[i]
	_, hasElse := c.elements[i].Outputs["else"]
	total := 0.0
	for _, w := range weights {
		total += w
	}
	weighted := 0
	for name := range c.elements[i].Outputs {
		if name != "else" {
			weighted++
		}
	}
	switch {
	case weighted == 0:
		c.add(i, `percentage needs at least one output such as "50%%"`)
	case weighted > MaxPercentageOutputs:
		c.add(i, "percentage has %d percentage outputs; at most %d (besides \"else\")", weighted, MaxPercentageOutputs)
	}
	switch {
	case total > 100+weightTolerance:
		c.add(i, "percentage outputs add up to %s%%, over 100%%", percentText(total))
	case len(weights) > 0 && len(weights) == weighted && total < 100-weightTolerance && !hasElse:
		c.add(i, `percentage outputs add up to %s%% and there is no "else" output for the other %s%%`, percentText(total), percentText(100-total))
	}
}

// parseWeight reads an output name such as "10%" or "12.5%": decimal digits, an optional
// fraction, then "%".
func parseWeight(name string) (float64, bool) {
	number, ok := strings.CutSuffix(name, "%")
	if !ok || number == "" || len(number) > 32 {
		return 0, false
	}
	whole, fraction, hasFraction := strings.Cut(number, ".")
	if !allDigits(whole) || (hasFraction && !allDigits(fraction)) {
		return 0, false
	}
	w, err := strconv.ParseFloat(number, 64)
	return w, err == nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// percentText prints a total without float noise: 99.99999999999999 reads 100.
func percentText(p float64) string {
	return strconv.FormatFloat(math.Round(p*1e6)/1e6, 'f', -1, 64)
}

// checkGraph finds elements the start cannot reach, cycles, and places from which no
// path reaches an end.
func (c *compiler) checkGraph() {
	n := len(c.elements)
	edges := make([][]link, n)
	for i := range c.elements {
		if !c.isNode(i) {
			continue
		}
		for _, name := range sortedOutputs(c.elements[i]) {
			if j, ok := c.first[c.elements[i].Outputs[name].ElementID]; ok && c.kinds[j] != KindStart {
				edges[i] = append(edges[i], link{name: name, to: j})
			}
		}
	}
	c.checkCycles(edges)
	if len(c.starts) == 0 || !c.isNode(c.starts[0]) {
		return
	}
	start := c.starts[0]
	reachable := make([]bool, n)
	reachable[start] = true
	queue := []int{start}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, e := range edges[i] {
			if !reachable[e.to] {
				reachable[e.to] = true
				queue = append(queue, e.to)
			}
		}
	}
	for i := range c.elements {
		if c.isNode(i) && !reachable[i] && c.kinds[i] != KindStart {
			c.add(i, "not reachable from the start element")
		}
	}
	c.checkEnds(edges, reachable, start)
}

// link is an output between two elements, by index.
type link struct {
	name string
	to   int
}

// checkCycles reports every output that closes a cycle, with the cycle's path.
func (c *compiler) checkCycles(edges [][]link) {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(c.elements))
	var path []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = onPath
		path = append(path, i)
		for _, e := range edges[i] {
			j := e.to
			switch state[j] {
			case unseen:
				visit(j)
			case onPath:
				from := len(path) - 1
				for path[from] != j {
					from--
				}
				ids := make([]string, 0, len(path)-from+1)
				for _, k := range path[from:] {
					ids = append(ids, c.elements[k].ID)
				}
				ids = append(ids, c.elements[j].ID)
				c.add(i, "output %q leads back to %q, a cycle: %s", e.name, c.elements[j].ID, strings.Join(ids, " -> "))
			}
		}
		path = path[:len(path)-1]
		state[i] = done
	}
	for i := range c.elements {
		if c.isNode(i) && state[i] == unseen {
			visit(i)
		}
	}
}

// checkEnds names, for every part of the route from which no path reaches an end, the
// element where that part begins: the start, or an element some live element leads to.
func (c *compiler) checkEnds(edges [][]link, reachable []bool, start int) {
	n := len(c.elements)
	incoming := make([][]int, n)
	for i := range edges {
		for _, e := range edges[i] {
			incoming[e.to] = append(incoming[e.to], i)
		}
	}
	live := make([]bool, n)
	var queue []int
	for i := range c.elements {
		if c.isNode(i) && c.kinds[i] == KindEnd {
			live[i] = true
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		j := queue[0]
		queue = queue[1:]
		for _, i := range incoming[j] {
			if !live[i] {
				live[i] = true
				queue = append(queue, i)
			}
		}
	}
	for i := range c.elements {
		if !reachable[i] || live[i] || !c.isNode(i) {
			continue
		}
		entry := i == start
		for _, from := range incoming[i] {
			entry = entry || (reachable[from] && live[from])
		}
		if entry {
			c.add(i, "no path from here reaches an end element")
		}
	}
}

// build makes the nodes of a valid route.
func (c *compiler) build() *Graph {
	g := &Graph{byID: make(map[string]*Node, len(c.elements))}
	for i, el := range c.elements {
		node := &Node{ID: el.ID, Kind: c.kinds[i], Model: c.models[i], Limit: c.limits[i], Condition: c.conditions[i]}
		g.nodes = append(g.nodes, node)
		g.byID[el.ID] = node
		if node.Kind == KindPercentage {
			g.percentages++
		}
	}
	for i, el := range c.elements {
		node := g.nodes[i]
		cumulative := 0.0
		for _, name := range sortedOutputs(el) {
			edge := Edge{Name: name, To: g.byID[el.Outputs[name].ElementID]}
			if node.Kind == KindPercentage && name != "else" {
				edge.Weight = c.weights[i][name]
				cumulative += edge.Weight
				edge.upTo = cumulative / 100
			}
			node.Outputs = append(node.Outputs, edge)
			switch name {
			case "next", "true", "success":
				node.next = edge.To
			case "false", "fallback":
				node.alt = edge.To
			case "else":
				node.elseTo = edge.To
			}
		}
	}
	g.start = g.nodes[c.starts[0]]
	return g
}

func secondsDuration(s float64) time.Duration { return time.Duration(s) * time.Second }

func millisDuration(ms float64) time.Duration { return time.Duration(ms) * time.Millisecond }

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}

// article is a kind with "a" or "an" before it.
func article(k Kind) string {
	name := k.String()
	if strings.ContainsRune("aeiou", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}
