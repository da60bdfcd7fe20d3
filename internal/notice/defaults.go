package notice

// Default is a template Ward seeds for a kind, as a draft for the Privacy
// Officer to adapt and approve.
type Default struct {
	Kind    Kind
	Name    string
	Subject string
	Body    string
}

// The sections every notice to individuals holds, each tagged with its
// element of 164.404(c)(1)(A)-(E), in plain language.
const individualSections = `## What happened {#what_happened}

{{.Breach.WhatHappened}} It happened on or about {{.Breach.OccurredOn}}. We found out on {{.Breach.DiscoveredOn}}.

## What information was involved {#phi_types}

The information was {{.Breach.PHIInvolved}}.

## What you can do {#self_protection_steps}

{{.Breach.StepsToTake}}

## What we are doing {#entity_actions}

{{.Breach.WhatWeAreDoing}}

## For more information {#contact_procedures}

Call us free at {{.Contact.TollFree}}. You can also email {{.Contact.Email}}, visit {{.Contact.Website}} or write to {{.Contact.PostalAddress}}.
`

// Defaults are the templates Ward seeds, one per kind.
func Defaults() []Default {
	return []Default{
		{Kind: KindIndividualLetter, Name: "Letter to an affected individual", Subject: "Notice of a data breach",
			Body: `Dear {{.Individual.Name}},

{{if .Individual.Regarding}}We are writing about {{.Individual.Regarding}}. {{end}}We are writing to tell you about a breach of your health information at {{.Entity.Name}}. We are sorry this happened.

` + individualSections + `
Sincerely,

{{.Entity.SignerName}}, {{.Entity.SignerTitle}}, {{.Entity.Name}}
`},
		{Kind: KindIndividualEmail, Name: "Email to an affected individual", Subject: "{{.Entity.Name}}: notice of a data breach",
			Body: `Dear {{.Individual.Name}},

You asked us to send you notices by email. We are writing to tell you about a breach of your health information at {{.Entity.Name}}. We are sorry this happened.

` + individualSections + `
Sincerely,

{{.Entity.SignerName}}, {{.Entity.SignerTitle}}, {{.Entity.Name}}
`},
		{Kind: KindSubstituteWeb, Name: "Web notice (substitute notice)", Subject: "Notice of a data breach",
			Body: `# Notice of a data breach

{{.Entity.Name}} is telling people about a breach of their health information. We could not reach some of them by mail. If you think your information may be involved, call {{.Contact.TollFree}} (free, for at least 90 days).

` + individualSections},
		{Kind: KindMediaRelease, Name: "Media release", Subject: "{{.Entity.Name}} gives notice of a data breach",
			Body: `# {{.Entity.Name}} gives notice of a data breach

For immediate release. {{.Date}}.

{{.Entity.Name}} is telling about {{.Recipient.Residents}} people in {{.Recipient.State}} that their health information was involved in a breach.

` + individualSections},
		{Kind: KindCustomerNotice, Name: "Notice to a covered-entity customer", Subject: "Notice of a breach of unsecured PHI",
			Body: `To {{.Recipient.Name}},

As your business associate, {{.Entity.Name}} tells you of a breach of unsecured protected health information (45 CFR 164.410). It involves {{.Recipient.Individuals}} of your individuals. Their names are in the attached list (164.410(c)(1)).

## What happened

{{.Breach.WhatHappened}} It happened on or about {{.Breach.OccurredOn}}. We found out on {{.Breach.DiscoveredOn}}.

## What information was involved

{{.Breach.PHIInvolved}}

## What we are doing

{{.Breach.WhatWeAreDoing}}

## Contact

{{.Entity.SignerName}}, {{.Entity.SignerTitle}}: {{.Contact.Email}}, {{.Contact.TollFree}}.
`},
		{Kind: KindStateAG, Name: "Notice to a State attorney general", Subject: "Notice of a data breach affecting residents of {{.Recipient.State}}",
			Body: `To the Office of the Attorney General of {{.Recipient.State}},

{{.Entity.Name}} gives notice of a breach of health information affecting {{.Recipient.Residents}} residents of {{.Recipient.State}} ({{.Breach.Individuals}} in total).

## What happened

{{.Breach.WhatHappened}} It happened on or about {{.Breach.OccurredOn}}. We found out on {{.Breach.DiscoveredOn}}.

## What information was involved

{{.Breach.PHIInvolved}}

## What we are doing

{{.Breach.WhatWeAreDoing}}

## Contact

{{.Entity.SignerName}}, {{.Entity.SignerTitle}}, {{.Entity.Name}}, {{.Entity.Address}}; {{.Contact.Email}}, {{.Contact.TollFree}}.
`},
	}
}
