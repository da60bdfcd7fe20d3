package ui

import (
	"net/http"
	"net/url"

	"github.com/wardhq/ward/internal/stakeholder"
)

// ---- status update templates ----

type updateTemplatesPage struct {
	Templates []stakeholder.Template
	// Template is the one shown (its own page only).
	Template     stakeholder.Template
	Audiences    []choice
	Placeholders []struct{ Name, Means string }
	Form         map[string]string
	Errors       map[string]string
}

func (u *UI) updateTemplatesData(r *http.Request) (updateTemplatesPage, error) {
	p := updateTemplatesPage{Placeholders: stakeholder.Placeholders}
	as, err := u.Stakeholders.Audiences(r.Context())
	if err != nil {
		return p, err
	}
	for _, a := range as {
		p.Audiences = append(p.Audiences, choice{a.Key, a.Label})
	}
	p.Templates, err = u.Stakeholders.Templates(r.Context())
	return p, err
}

func readTemplate(r *http.Request) (map[string]string, stakeholder.TemplateInput) {
	form := formValues(r, "name", "audience", "body", "phi_override")
	return form, stakeholder.TemplateInput{Name: form["name"], Audience: form["audience"], Body: form["body"], PHIOverride: form["phi_override"] == "on"}
}

func (u *UI) updateTemplateList(w http.ResponseWriter, r *http.Request) {
	p, err := u.updateTemplatesData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "update_templates", "Status update templates", "stakeholders", p)
}

// templateFailed re-renders page with a save's field errors.
func (u *UI) templateFailed(w http.ResponseWriter, r *http.Request, err error, p updateTemplatesPage, form map[string]string, page, title string) {
	fe, ok := fieldErrors(err)
	if !ok {
		u.fail(w, r, err)
		return
	}
	p.Form, p.Errors = form, fe
	u.render(w, r, http.StatusUnprocessableEntity, page, title, "stakeholders", p)
}

func (u *UI) updateTemplateCreate(w http.ResponseWriter, r *http.Request) {
	form, in := readTemplate(r)
	if _, err := u.Stakeholders.CreateTemplate(r.Context(), in); err != nil {
		p, lerr := u.updateTemplatesData(r)
		if lerr != nil {
			u.fail(w, r, lerr)
			return
		}
		u.templateFailed(w, r, err, p, form, "update_templates", "Status update templates")
		return
	}
	redirect(w, r, "/stakeholders/templates?msg=update_template_created")
}

func (u *UI) updateTemplateData(r *http.Request) (updateTemplatesPage, error) {
	p, err := u.updateTemplatesData(r)
	if err != nil {
		return p, err
	}
	p.Templates = nil
	p.Template, err = u.Stakeholders.GetTemplate(r.Context(), r.PathValue("update_template"))
	return p, err
}

func (u *UI) updateTemplateShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.updateTemplateData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Form = map[string]string{"name": p.Template.Name, "audience": p.Template.Audience, "body": p.Template.Body}
	u.render(w, r, http.StatusOK, "update_template", p.Template.Name, "stakeholders", p)
}

func (u *UI) updateTemplateUpdate(w http.ResponseWriter, r *http.Request) {
	form, in := readTemplate(r)
	id := r.PathValue("update_template")
	if _, err := u.Stakeholders.UpdateTemplate(r.Context(), id, in); err != nil {
		p, gerr := u.updateTemplateData(r)
		if gerr != nil {
			u.fail(w, r, gerr)
			return
		}
		u.templateFailed(w, r, err, p, form, "update_template", p.Template.Name)
		return
	}
	redirect(w, r, "/stakeholders/templates/"+url.PathEscape(id)+"?msg=update_template_saved")
}

func (u *UI) updateTemplateDelete(w http.ResponseWriter, r *http.Request) {
	if err := u.Stakeholders.DeleteTemplate(r.Context(), r.PathValue("update_template")); err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/stakeholders/templates?msg=update_template_deleted")
}

// ---- the incident page's public status page ----

func (u *UI) publicPageSet(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "enabled")
	on := form["enabled"] == "on"
	if _, err := u.Stakeholders.SetPublicPage(r.Context(), r.PathValue("id"), on); err != nil {
		u.fail(w, r, err)
		return
	}
	msg := "public_page_off"
	if on {
		msg = "public_page_on"
	}
	redirect(w, r, "/incidents/"+url.PathEscape(r.PathValue("id"))+"?msg="+msg+"#public-page")
}
