// Package rules is the pure rules engine of Ward's breach case: the
// discovery clock (45 CFR 164.404(a)(2), 164.410(a)(2)), the determination
// order of 164.402, the notice obligations and their deadlines (164.404,
// 164.406, 164.408, 164.410, 164.412 and the versioned State table), the
// substitute notice thresholds (164.404(d)(2)) and the required content of a
// notice (164.404(c)).
//
// Nothing here touches a database, the network or the clock: every function
// takes the facts and the time it reasons about, so the same input always
// gives the same answer and table tests pin every rule to its citation.
// docs/BREACH_RULES.md explains each rule.
package rules
