package rules

import (
	"context"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
)

// FuzzRuleExpression compiles rule expressions as saving a rule does and
// runs each that compiles against an incident, as the engine does: an
// expression is either refused naming the expression field or compiles to
// a true-or-false program, and no evaluation runs past the cost limit (a
// rule that would run away stops with an error instead of holding the
// incident's transaction). Run it longer with:
//
//	go test -run='^$' -fuzz='^FuzzRuleExpression$' -fuzztime=10m ./internal/rules
func FuzzRuleExpression(f *testing.F) {
	for _, expr := range []string{
		`incident.severity == "sev1" && incident.phi_suspected`,
		`incident.phi_suspected && incident.severity != "sev1"`,
		`"payments" in incident.services && incident.alerts >= 2`,
		`incident.customers.exists(a, incident.customers.exists(b, incident.customers.exists(c, a + b + c == "never")))`,
		`incident.customers.all(c, c.startsWith("acme")) && size(incident.customers) > 0`,
		`incident.category.matches("^(privacy|security)$") || incident.commander == ""`,
		`incident.restricted || incident.number.endsWith("7") || incident.status in ["triggered", "acknowledged"]`,
		`[1, 2, 3].map(x, x * incident.alerts).exists(y, y > 100)`,
		`incident.alerts / 0 == 1`,
		`incident.severity`,
		`incident.title == "x"`,
		`incident.alerts == "3"`,
		`incident.severity == `,
		strings.Repeat("(", 300) + "true" + strings.Repeat(")", 300),
		`true`,
		` `,
	} {
		f.Add(expr, "sev2", "security", "acme,globex,initech", 3, true)
	}
	e, err := New(nil, nil, nil, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr, severity, category, customers string, alerts int, phi bool) {
		prg, err := e.compile(expr)
		if err != nil {
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.Invalid || len(ae.Fields) == 0 || ae.Fields[0].Field != "expression" {
				t.Fatalf("refused with %v, want an invalid-input error naming the expression", err)
			}
			return
		}
		if strings.TrimSpace(expr) == "" || len(expr) > MaxExpression {
			t.Fatalf("compiled an expression of %d bytes that should be refused", len(expr))
		}
		list := strings.Split(customers, ",")
		s := Subject{Number: "INC-42", Severity: severity, Category: category, Status: "triggered", PHISuspected: phi,
			Commander: "dana", Customers: list, Services: list, Alerts: alerts}
		out, det, err := prg.ContextEval(context.Background(), map[string]any{"incident": s})
		if err != nil {
			return // a runtime error (or the cost limit) makes the rule not match
		}
		cost := det.ActualCost()
		if cost == nil {
			t.Fatal("the program does not track its cost")
		}
		if *cost > CostLimit {
			t.Fatalf("finished at cost %d, over the limit of %d", *cost, CostLimit)
		}
		if _, ok := out.Value().(bool); !ok {
			t.Fatalf("a compiled expression gave %v (%T), not true or false", out.Value(), out.Value())
		}
		if _, err := eval(context.Background(), prg, s); err != nil {
			t.Fatalf("eval failed where the program did not: %v", err)
		}
	})
}
