// walk.go is the pure walk step: a Walker goes through start, conditional and percentage
// nodes on its own and stops at each rate_limit, model and end node for the caller to act
// and report the outcome, like raft's Ready/Advance loop with the I/O outside.
package flows

import (
	"encoding/json"
	"strconv"
)

// Walker is one request's walk through a Graph. It is used by one goroutine at a time.
type Walker struct {
	graph    *Graph
	view     View
	random   func() float64
	started  bool
	pending  Step // the step returned last
	done     bool
	answered bool
	visits   []Visit
	first    [8]Visit // visits of most walks fit here, in the Walker's own allocation
}

// Walk starts a walk of the graph for the request v shows (nil: a request with nothing
// in it). random returns a number in [0,1) for each percentage node passed; it may be nil
// only when the route has no percentage element.
func (g *Graph) Walk(v View, random func() float64) *Walker {
	if random == nil && g.percentages > 0 {
		panic("flows: Walk needs a random source for a route with a percentage element")
	}
	if v == nil {
		v = emptyView{}
	}
	w := &Walker{graph: g, view: v, random: random}
	w.visits = w.first[:0]
	return w
}

// Next reports the outcome of the step Next returned last and returns the next one. The
// first call (its outcome is ignored; pass OutcomeNone) walks from the start. OutcomeNone
// while a limit or model step waits returns that step again; after StepEnd every call
// returns the same StepEnd.
func (w *Walker) Next(o Outcome) Step {
	if w.done {
		return w.pending
	}
	if !w.started {
		w.started = true
		return w.advance(w.graph.start)
	}
	if o == OutcomeNone {
		return w.pending
	}
	node := w.pending.Node
	last := &w.visits[len(w.visits)-1]
	if o == OutcomeSuccess {
		last.Output = "success"
		if node.Kind == KindModel {
			w.answered = true
		}
		return w.advance(node.next)
	}
	if node.alt != nil {
		last.Output = "fallback"
		return w.advance(node.alt)
	}
	end := Step{Kind: StepEnd, Node: node, Answered: w.answered}
	if node.Kind == KindRateLimit {
		end.Refused = node
	} else {
		end.Failed = node
	}
	return w.finish(end)
}

// Visits are the nodes walked so far, in order, each with the output it took. The slice
// is a copy, the caller's to keep.
func (w *Walker) Visits() []Visit {
	return append([]Visit(nil), w.visits...)
}

// advance goes from node through the nodes that need nothing from the caller and stops at
// the first rate_limit, model or end node. A compiled graph has no cycles, so it ends.
func (w *Walker) advance(node *Node) Step {
	for {
		w.visits = append(w.visits, Visit{ElementID: node.ID, Type: node.Kind.String()})
		visit := &w.visits[len(w.visits)-1]
		switch node.Kind {
		case KindStart:
			visit.Output = "next"
			node = node.next
		case KindConditional:
			if node.Condition.Match(w.view) {
				visit.Output = "true"
				node = node.next
			} else {
				visit.Output = "false"
				node = node.alt
			}
		case KindPercentage:
			edge := pick(node, w.random())
			visit.Output = edge.Name
			node = edge.To
		case KindRateLimit:
			step := Step{Kind: StepLimit, Node: node}
			val, found := w.view.Lookup(node.Limit.Key)
			step.LimitKey, step.KeyMissing = keyText(val, found)
			w.pending = step
			return step
		case KindModel:
			w.pending = Step{Kind: StepModel, Node: node}
			return w.pending
		default: // KindEnd
			return w.finish(Step{Kind: StepEnd, Node: node, Answered: w.answered})
		}
	}
}

func (w *Walker) finish(end Step) Step {
	w.done = true
	w.pending = end
	return end
}

// pick chooses a percentage node's output for the draw r in [0,1): the weighted outputs
// in name order take r by their cumulative weight; r beyond their sum goes to "else", or,
// when weights sum to 100 but rounding left r past them, to the last weighted output.
func pick(node *Node, r float64) *Edge {
	var last *Edge
	for i := range node.Outputs {
		edge := &node.Outputs[i]
		if edge.Name == "else" {
			continue
		}
		if r < edge.upTo {
			return edge
		}
		last = edge
	}
	if node.elseTo != nil {
		return &node.Outputs[len(node.Outputs)-1] // "else" sorts after every "<n>%"
	}
	return last
}

// keyText is a limit key's bucket name: strings as they are, numbers in their shortest
// form, booleans as true or false, objects and arrays as compact JSON. A missing value
// or null is KeyMissing.
func keyText(val any, found bool) (string, bool) {
	if !found || val == nil {
		return "", true
	}
	switch x := val.(type) {
	case string:
		return x, false
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), false
	case bool:
		return strconv.FormatBool(x), false
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64), false
		}
		return x.String(), false
	}
	if f, ok := otherNumber(val); ok {
		return strconv.FormatFloat(f, 'f', -1, 64), false
	}
	b, err := json.Marshal(val)
	if err != nil {
		return "", true
	}
	return string(b), false
}
