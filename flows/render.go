// render.go prints a compiled route as text, one line per node in element order, for
// `switchyard route show` and for people reading a route in a log or a review.
package flows

import (
	"strconv"
	"strings"
)

// String is the graph as text: one line per node in element order, the node's id, its
// kind (left out when the id is the kind's name, as in "start" or "end"), its settings,
// then its outputs:
//
//	start -> next: cond1
//	cond1 conditional {"metadata.plan":{"$eq":"paid"}} -> true: m1, false: m2
//	rl rate_limit count 10 per 600s sliding on metadata.user_id -> success: m1, fallback: m2
//	m1 model openai/gpt-4o-mini timeout 5s retries 2 -> success: end, fallback: m2
//	split percentage -> 10%: a, 50%: b, else: c
//	end
func (g *Graph) String() string {
	var b strings.Builder
	for _, node := range g.nodes {
		writeNode(&b, node)
		b.WriteByte('\n')
	}
	return b.String()
}

func writeNode(b *strings.Builder, node *Node) {
	b.WriteString(node.ID)
	if node.ID != node.Kind.String() {
		b.WriteByte(' ')
		b.WriteString(node.Kind.String())
	}
	switch node.Kind {
	case KindConditional:
		b.WriteByte(' ')
		b.WriteString(node.Condition.String())
	case KindRateLimit:
		l := node.Limit
		kind, technique := "count", "fixed"
		if l.Cost {
			kind = "cost"
		}
		if l.Sliding {
			technique = "sliding"
		}
		b.WriteString(" " + kind + " " + strconv.FormatFloat(l.Limit, 'f', -1, 64) +
			" per " + strconv.FormatInt(int64(l.Interval.Seconds()), 10) + "s " + technique + " on " + l.Key)
	case KindModel:
		m := node.Model
		b.WriteString(" " + m.Provider + "/" + m.Model)
		if m.Timeout > 0 {
			b.WriteString(" timeout " + m.Timeout.String())
		}
		if m.Retries > 0 {
			b.WriteString(" retries " + strconv.Itoa(m.Retries))
		}
	}
	edges := displayOrder(node)
	for i, edge := range edges {
		if i == 0 {
			b.WriteString(" -> ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(edge.Name + ": " + edge.To.ID)
	}
}

// displayOrder lists outputs the way people read them: true before false, success before
// fallback; percentage outputs stay in name order with else last.
func displayOrder(node *Node) []Edge {
	var order []string
	switch node.Kind {
	case KindConditional:
		order = []string{"true", "false"}
	case KindRateLimit, KindModel:
		order = []string{"success", "fallback"}
	default:
		return node.Outputs
	}
	edges := make([]Edge, 0, len(node.Outputs))
	for _, name := range order {
		for _, edge := range node.Outputs {
			if edge.Name == name {
				edges = append(edges, edge)
			}
		}
	}
	return edges
}
