package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apitoken"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/confcode"
	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/jobs"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/notice"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/playbook"
	"github.com/wardhq/ward/internal/report"
	"github.com/wardhq/ward/internal/retention"
	"github.com/wardhq/ward/internal/rules"
	"github.com/wardhq/ward/internal/sso"
	"github.com/wardhq/ward/internal/stakeholder"
	"github.com/wardhq/ward/internal/user"
	"github.com/wardhq/ward/internal/web"
	"github.com/wardhq/ward/internal/web/intake"
	"github.com/wardhq/ward/internal/web/ui"
)

// migrate applies Ward's migrations.
func migrate(ctx context.Context, env Env, d *db.DB) (int, error) {
	return d.Migrate(ctx, env.Clock.Now)
}

func serveCmd(env Env, cfg *config.Config) *cobra.Command {
	var backups backupFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Ward server (HTTPS; self-signed for localhost unless given a certificate)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), env, cfg, &backups)
		},
	}
	config.BindServe(cmd.Flags(), cfg)
	bindBackupServe(cmd.Flags(), &backups)
	return cmd
}

func serve(ctx context.Context, env Env, cfg *config.Config, backups *backupFlags) error {
	logger, err := newLogger(env, cfg)
	if err != nil {
		return &exitError{ExitUsage, err}
	}
	d, err := openDB(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := migrate(ctx, env, d)
	if err != nil {
		return err
	}
	logger.Info("database_ready", "dialect", string(d.Dialect), "migrations_applied", n)
	schedule, err := newSchedule(env, backups, d)
	if err != nil {
		return err
	}

	tlsConfig, err := loadTLS(env, cfg, logger)
	if err != nil {
		return err
	}
	kr, err := loadKeyring(ctx, env, cfg, d, logger)
	if err != nil {
		return err
	}
	// Pick up a new primary key after `ward keys rotate`.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go kr.Watch(watchCtx, keys.RefreshInterval, logger)
	guard, err := cfg.Outbound()
	if err != nil {
		return &exitError{ExitUsage, err}
	}
	node := nodeName()
	checkpoints, err := newCheckpointer(env, cfg, d, guard, node, logger)
	if err != nil {
		return err
	}
	prov := providers(cfg, env)
	prov.Outbound = guard
	if prov.Email != nil {
		if prov.Email.TLS, err = smtpRoots(cfg.SMTPCAFile); err != nil {
			return err
		}
	}
	channels, err := paging.NewChannels(prov)
	if err != nil {
		return fmt.Errorf("notification channels: %w", err)
	}
	var slackBot *notify.SlackBot
	if prov.SlackBot != nil {
		if slackBot, err = notify.NewSlackBot(*prov.SlackBot); err != nil {
			return fmt.Errorf("slack: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	users := user.NewService(d, env.Clock, userOptions(cfg, kr, cfg.BaseURL(ln.Addr().String())))
	incidents := incident.NewService(d, env.Clock, kr, incident.WithLogger(logger))
	alerts := alert.NewIntake(d, env.Clock, kr, incidents)
	if err := sealPlaintext(ctx, kr, incidents, alerts, logger); err != nil {
		ln.Close()
		return err
	}
	ret := retention.New(d, env.Clock, incidents, kr, logger)
	pager := paging.New(d, env.Clock, kr, incidents, channels, logger,
		paging.Options{BaseURL: cfg.BaseURL(ln.Addr().String()), PollInterval: cfg.PagingPoll, Outbound: guard})
	alerts.SetPager(pager)
	incidents.NotifyOfficersWith(pager)
	vault := evidence.New(d, env.Clock, incidents, kr, evidence.Options{MaxBytes: cfg.EvidenceMaxBytes, Log: logger,
		Alert: pager.NotifyEvidenceAlteredTx})
	stakeholders := stakeholder.New(d, env.Clock, kr, incidents, pager, logger)
	workflow, err := rules.New(d, env.Clock, incidents, pager, logger)
	if err != nil {
		ln.Close()
		return err
	}
	zone, err := cfg.Zone()
	if err != nil {
		ln.Close()
		return err
	}
	cases, err := breach.New(d, env.Clock, incidents, kr, logger, breach.WithTimeZone(zone))
	if err != nil {
		ln.Close()
		return err
	}
	if n, err := cases.ReconcileZone(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("breach time zone: %w", err)
	} else if n > 0 {
		logger.InfoContext(ctx, "breach_deadlines_recomputed_in_time_zone", "time_zone", zone.String(), "cases", n)
	}
	var noticeMail *notify.Email
	if prov.Email != nil {
		mailCfg := *prov.Email
		mailCfg.Clock = env.Clock
		if noticeMail, err = notify.NewEmail(mailCfg); err != nil {
			ln.Close()
			return fmt.Errorf("notice email: %w", err)
		}
	}
	notices := notice.New(d, env.Clock, cases, incidents, kr, noticeMail, logger)
	notices.BatchSize = cfg.LettersPerPDF
	if err := notices.Seed(ctx); err != nil {
		ln.Close()
		return err
	}
	reports, err := report.New(d, env.Clock, cases, incidents, kr, pager, logger, cfg.BreachReminderDays)
	if err != nil {
		ln.Close()
		return err
	}
	// The status pages need the address and the organisation's name even
	// without an SMTP server (the public one).
	stakeholders.SetMail(stakeholder.MailOptions{Email: noticeMail, BaseURL: cfg.BaseURL(ln.Addr().String()), Organisation: reports.OrgName})
	reports.AddProducer(notices.ProofFiles)
	reports.AddProducer(vault.ProofFiles)
	reports.AddProducer(stakeholders.ProofFiles)
	workflow.OpenCasesWith(cases)
	if cfg.BreachAutoOpen {
		workflow.AutoOpenCases()
	}
	playbooks, err := playbook.New(d, env.Clock, kr, incidents)
	if err != nil {
		ln.Close()
		return err
	}
	playbooks.OpenCasesWith(func(ctx context.Context, tx *sql.Tx, id string) error {
		_, err := cases.OpenTx(authz.WithActor(ctx, authz.Actor{Kind: authz.KindSystem, ID: "ward", Name: "Ward (playbook)",
			Role: authz.RoleAdmin}), tx, id)
		return err
	})
	if cfg.BreachAutoOpen {
		playbooks.AutoOpenCases()
	}
	playbooks.PageWith(pager.PagePolicyTx)
	workflow.ApplyPlaybooksWith(playbooks)
	workflow.CallWebhooksWith(rules.WebhookOptions{Keys: kr, Outbound: guard, BaseURL: cfg.BaseURL(ln.Addr().String())})
	// Webhook addresses that rules saved before migration 0063 keep in
	// clear, sealed before Ward serves.
	if n, err := workflow.SealWebhookURLs(ctx); err != nil {
		ln.Close()
		return err
	} else if n > 0 {
		logger.InfoContext(ctx, "rule_webhook_urls_sealed", "rules", n)
	}
	// The playbook of an incident's category is applied after the rules
	// ran, in the transaction that records the incident.
	incidents.WatchWith(incident.Watchers{workflow, playbooks})
	alerts.SetWatcher(workflow)
	alerts.SetOrchestrator(workflow)
	single, err := ssoClient(cfg, cfg.BaseURL(ln.Addr().String()))
	if err != nil {
		ln.Close()
		return err
	}
	trail := audit.NewReader(d, env.Clock)
	streamer, err := siemStreamer(cfg, d, guard, logger)
	if err != nil {
		ln.Close()
		return &exitError{ExitUsage, err}
	}
	pages, err := ui.New(ui.Deps{DB: d, Incidents: incidents, Alerts: alerts, Pager: pager, Stakeholders: stakeholders, Rules: workflow,
		Breach: cases, Notices: notices, Reports: reports, Retention: ret, Evidence: vault, Audit: trail,
		Users: users, Playbooks: playbooks,
		SSO: single, InsecureHTTP: cfg.InsecureHTTP, EmailDomain: emailDomain(cfg), Clock: env.Clock, Log: logger, Version: env.Version})
	if err != nil {
		ln.Close()
		return err
	}
	// Every node watches the audit chain as it grows; a break goes into a
	// new segment at once and the officers are told (docs/AUDIT.md).
	watcher := audit.NewWatcher(d, env.Clock, audit.WatchOptions{Node: node, Interval: cfg.AuditWatch,
		Alert: pager.NotifyAuditChainBrokenTx, Log: logger})
	ret.WatchChain(watcher.Status)
	// Writers chain their own audit entries as they commit; the sequencer
	// (one node at a time) chains what a writer left, and every node
	// reports entries that stay unchained (docs/AUDIT.md, "Chaining").
	sequencer := audit.NewSequencer(d, env.Clock, audit.SequencerOptions{Node: node, Log: logger})
	collectors := append(watcher.Collectors(), checkpoints.Collectors()...)
	collectors = append(collectors, vault.Collectors()...)
	collectors = append(collectors, sequencer.Collectors()...)
	if schedule != nil {
		schedule.Log, schedule.Alert = logger, pager.NotifyBackupFailedTx
		collectors = append(collectors, schedule.Metrics.Collectors()...)
	}
	if streamer != nil {
		collectors = append(collectors, streamer.Collector())
	}
	rounds := newRoundsMetric()
	collectors = append(collectors, rounds)
	handler := web.Handler(web.Deps{
		DB:                 d,
		Tokens:             apitoken.NewService(d, env.Clock),
		Users:              users,
		Incidents:          incidents,
		Alerts:             alerts,
		Pager:              pager,
		Stakeholders:       stakeholders,
		Rules:              workflow,
		Breach:             cases,
		Notices:            notices,
		Reports:            reports,
		Retention:          ret,
		Evidence:           vault,
		Playbooks:          playbooks,
		Config:             confcode.New(d, env.Clock),
		Checkpoints:        checkpoints,
		Audit:              trail,
		Chain:              watcher,
		SNSHosts:           cfg.SNSConfirmHosts,
		Outbound:           guard,
		TwilioAuthToken:    cfg.TwilioAuthToken,
		SlackSigningSecret: cfg.SlackSigningSecret,
		Slack:              slackBot,
		EmailDomain:        emailDomain(cfg),
		PublicURL:          cfg.BaseURL(ln.Addr().String()),
		UI:                 pages,
		Log:                logger,
		Version:            env.Version,
		Collectors:         collectors,
	})
	runner, err := jobs.New(d, logger, jobs.Options{Node: node, Clock: env.Clock, Retention: ret, Evidence: vault,
		ChainBroken: watcher.Report, Tasks: []jobs.Task{{Name: "open_counts_fold", Period: openCountsFoldPeriod,
			Timeout: time.Minute, Run: incidents.FoldOpenCounts},
			{Name: "notice_counts_fold", Period: noticeCountsFoldPeriod, Timeout: time.Minute, Run: notices.FoldCounts},
			{Name: "rule_webhooks", Period: ruleWebhooksPeriod, Timeout: 2 * time.Minute, Run: workflow.DeliverWebhooks},
			{Name: "rule_timers", Period: ruleTimersPeriod, Timeout: 5 * time.Minute, Run: workflow.RunTimers},
			{Name: "status_page_codes_purge", Period: stakeholder.StatusCodesPurgePeriod, Timeout: time.Minute,
				Run: func(ctx context.Context) error { _, _, err := stakeholders.PurgeStatusCodes(ctx); return err }}}})
	if err != nil {
		ln.Close()
		return err
	}
	// The runner lives until Stop below, not until ctx ends, so that
	// running tasks finish cleanly on shutdown.
	if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(slogWriter{logger}, "", 0),
	}
	scheme := "https"
	if tlsConfig == nil {
		scheme = "http"
	} else {
		ln = tls.NewListener(ln, tlsConfig)
	}
	url := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(env.Stdout, "Ward %s is serving at %s\n", env.Version, url)
	link, err := setupLink(cliContext(ctx), users, url)
	if err != nil {
		ln.Close()
		return errors.Join(err, runner.Stop(context.Background()))
	}
	if link != "" {
		fmt.Fprintf(env.Stdout, "No user exists yet. Within the next hour, open this one-time link to create the first administrator:\n  %s\n", link)
	}
	if env.Ready != nil {
		env.Ready(url)
	}

	// The escalator stops after the server, so that pages accepted until
	// then are queued; what it has not sent yet stays in the outbox.
	pagingCtx, stopPaging := context.WithCancel(context.WithoutCancel(ctx))
	var pagingDone sync.WaitGroup
	if cfg.EmailListen != "" {
		eln, err := net.Listen("tcp", cfg.EmailListen)
		if err != nil {
			ln.Close()
			stopPaging()
			return errors.Join(fmt.Errorf("email-intake-listen: %w", err), runner.Stop(context.Background()))
		}
		logger.Info("email_intake_listening", "address", eln.Addr().String(), "domain", cfg.EmailDomain)
		pagingDone.Go(func() {
			if err := intake.ServeEmail(pagingCtx, eln, intake.EmailDeps{Alerts: alerts, Domain: cfg.EmailDomain, TLS: tlsConfig,
				Log: logger}); err != nil {
				logger.Error("email_intake_stopped", "error", err)
			}
		})
	}
	pagingDone.Go(func() { pager.Run(pagingCtx) })
	if streamer != nil {
		pagingDone.Go(func() { streamer.Run(pagingCtx) })
	}
	pagingDone.Go(func() {
		every(pagingCtx, cfg.PagingPoll, rounds.WithLabelValues("heartbeat_check"), "heartbeat_check_failed", logger, alerts.CheckHeartbeats)
	})
	// SLAs are measured in minutes: looking ten times less often than for
	// pages is plenty.
	pagingDone.Go(func() {
		every(pagingCtx, 10*cfg.PagingPoll, rounds.WithLabelValues("sla_check"), "sla_check_failed", logger, stakeholders.CheckSLAs)
	})
	// Email to external subscribers goes at the pace of pages.
	pagingDone.Go(func() {
		every(pagingCtx, cfg.PagingPoll, rounds.WithLabelValues("external_mail"), "external_mail_failed", logger, stakeholders.DeliverExternal)
	})
	// Breach notice deadlines are days away: the SLA checks' pace is plenty.
	pagingDone.Go(func() {
		every(pagingCtx, 10*cfg.PagingPoll, rounds.WithLabelValues("breach_reminders"), "breach_reminder_check_failed", logger,
			reports.CheckReminders)
	})
	// Overdue action items are due days after they are made: likewise.
	pagingDone.Go(func() {
		every(pagingCtx, 10*cfg.PagingPoll, rounds.WithLabelValues("action_item_reminders"), "action_item_reminder_check_failed",
			logger, func(ctx context.Context) (int, error) {
				return incidents.RemindOverdueActionItems(ctx, func(ctx context.Context, tx *sql.Tx, incidentID, line string,
					users []string) (int, error) {
					return pager.NotifyTx(ctx, tx, paging.KindReminder, incidentID, line, users)
				})
			})
	})
	// Playbook tasks are due hours after they are made: likewise.
	pagingDone.Go(func() {
		every(pagingCtx, 10*cfg.PagingPoll, rounds.WithLabelValues("task_reminders"), "task_reminder_check_failed",
			logger, func(ctx context.Context) (int, error) {
				return incidents.RemindOverdueTasks(ctx, func(ctx context.Context, tx *sql.Tx, incidentID, line string,
					users []string) (int, error) {
					return pager.NotifyTx(ctx, tx, paging.KindReminder, incidentID, line, users)
				})
			})
	})
	if schedule != nil {
		logger.Info("scheduled_backups_on", "every", backups.Every.String(), "keep", backups.Keep)
		pagingDone.Go(func() { schedule.Run(pagingCtx) })
	}
	pagingDone.Go(func() { checkpoints.Run(pagingCtx) })
	pagingDone.Go(func() { watcher.Run(pagingCtx) })
	pagingDone.Go(func() { sequencer.Run(pagingCtx) })
	defer pagingDone.Wait()
	defer stopPaging()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(fmt.Errorf("serve: %w", err), runner.Stop(context.Background()))
	case <-ctx.Done():
	}
	logger.Info("shutting_down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return errors.Join(err, runner.Stop(shutCtx))
}

// openCountsFoldPeriod is how often the rows the triggers append to
// incident_open_counts are folded into one per severity and phase
// (incident.FoldOpenCounts): between folds the home page sums the rows of
// this many seconds of changes.
const openCountsFoldPeriod = 10 * time.Second

// noticeCountsFoldPeriod is how often the rows the triggers append to
// notice_counts and notice_returned_counts are folded into one per case,
// kind, channel and status and one per case (notice.FoldCounts): between
// folds a case's notices page sums the rows of this many seconds of
// changes to its notices.
const noticeCountsFoldPeriod = 10 * time.Second

// ruleWebhooksPeriod is how often the workflow rules' webhook calls that
// are due are sent (rules.Engine.DeliverWebhooks).
const ruleWebhooksPeriod = 10 * time.Second

// ruleTimersPeriod is how often timed workflow rules are checked
// (rules.Engine.RunTimers): a timed rule acts at most this long after its
// delay has passed.
const ruleTimersPeriod = 30 * time.Second

// emailDomain is the email intake's domain when it is on.
func emailDomain(cfg *config.Config) string {
	if cfg.EmailListen == "" {
		return ""
	}
	return cfg.EmailDomain
}

// newRoundsMetric counts the rounds of the periodic checks. A test that
// asserts a check did nothing waits for rounds to complete after its
// change instead of sleeping (issue #11).
func newRoundsMetric() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ward_check_rounds_total",
		Help: "Rounds of a periodic check completed on this node, failed or not, by check (heartbeat_check, sla_check, external_mail, breach_reminders, action_item_reminders, task_reminders).",
	}, []string{"check"})
}

// every runs check at once and then every interval until ctx ends,
// logging failures as what and counting each round in rounds.
func every(ctx context.Context, interval time.Duration, rounds prometheus.Counter, what string, logger *slog.Logger,
	check func(context.Context) (int, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := check(ctx); err != nil && ctx.Err() == nil {
			logger.ErrorContext(ctx, what, "error", err)
		}
		rounds.Inc()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// providers are the notification providers the settings configure.
func providers(cfg *config.Config, env Env) paging.Providers {
	p := paging.Providers{Clock: env.Clock}
	if cfg.SMTPServer != "" {
		host, portText, _ := net.SplitHostPort(cfg.SMTPServer)
		port, _ := strconv.Atoi(portText)
		p.Email = &notify.EmailConfig{Host: host, Port: port, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
			From: cfg.SMTPFrom, TLSMode: cfg.SMTPTLS}
	}
	if cfg.TwilioAccountSID != "" {
		p.Twilio = &notify.TwilioConfig{BaseURL: cfg.TwilioURL, AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken,
			From: cfg.TwilioFrom}
	}
	if cfg.SlackBotToken != "" {
		p.SlackBot = &notify.SlackBotConfig{BaseURL: cfg.SlackURL, Token: cfg.SlackBotToken, Interactive: cfg.SlackSigningSecret != ""}
	}
	return p
}

// ssoClient is the OpenID Connect client the settings configure; nil
// without --oidc-issuer. base is Ward's public URL.
func ssoClient(cfg *config.Config, base string) (*sso.Client, error) {
	if cfg.OIDCIssuer == "" {
		return nil, nil
	}
	roleMap, err := sso.ParseRoleMap(cfg.OIDCRoleMap)
	if err != nil {
		return nil, fmt.Errorf("oidc-role-map: %w", err)
	}
	redirect := cfg.OIDCRedirectURL
	if redirect == "" {
		redirect = sso.RedirectURL(base)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.OIDCCAFile != "" {
		roots, err := caRoots("oidc-ca-file", cfg.OIDCCAFile)
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return sso.New(sso.Options{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
		RedirectURL: redirect, GroupsClaim: cfg.OIDCGroupsClaim, RoleMap: roleMap, Name: cfg.OIDCName,
		HTTPClient: &http.Client{Transport: transport, Timeout: 10 * time.Second}})
}

// caRoots is the system's roots with the PEM certificates in file added;
// flag names the setting in errors.
func caRoots(flag, file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", flag, file)
	}
	return roots, nil
}

// smtpRoots adds the --smtp-ca-file certificates to the system's roots.
func smtpRoots(file string) (*tls.Config, error) {
	if file == "" {
		return nil, nil
	}
	roots, err := caRoots("smtp-ca-file", file)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

// loadTLS returns the TLS configuration: certificates from ACME for
// --acme-domain, the operator's certificate, reloaded when its files
// change, or a self-signed one for localhost made on first start; nil for
// plain HTTP.
func loadTLS(env Env, cfg *config.Config, logger *slog.Logger) (*tls.Config, error) {
	if cfg.InsecureHTTP {
		logger.Warn("plain_http_enabled",
			"warning", "Ward is serving plain HTTP; use this only behind a load balancer that terminates TLS (45 CFR 164.312(e)(1))")
		return nil, nil
	}
	if len(cfg.ACMEDomains) > 0 {
		m, err := web.NewACME(cfg.ACMEDomains, cfg.ACMEEmail, cfg.ACMEDirectory, filepath.Join(cfg.DataDir, "acme"), logger)
		if err != nil {
			return nil, err
		}
		logger.Info("acme_enabled", "domains", cfg.ACMEDomains, "directory", cfg.ACMEDirectory)
		return m.TLSConfig(), nil
	}
	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if certFile == "" {
		var created bool
		var err error
		certFile, keyFile, created, err = web.EnsureSelfSigned(cfg.DataDir, env.Clock.Now())
		if err != nil {
			return nil, err
		}
		if created {
			logger.Info("self_signed_certificate_created", "file", certFile)
		}
	}
	certs, err := web.NewCertReloader(certFile, keyFile, logger)
	if err != nil {
		return nil, err
	}
	logger.Info("tls_certificate_loaded", "cert_file", certFile, "not_after", certs.NotAfter().UTC())
	return web.TLSConfig(certs.GetCertificate), nil
}

// slogWriter sends net/http's own log lines (such as TLS handshake errors)
// to the structured log.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("http_server", "message", string(p))
	return len(p), nil
}
