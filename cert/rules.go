package cert

import "github.com/ctsec/ctsec/internal/report"

// Rules are what tls deploy warns about (its refusals are errors).
var Rules = report.Rules{
	{ID: "tls/expires-soon", Severity: report.Medium, Title: "the certificate expires soon",
		Description: "Fewer than 14 days of validity are left (measured with ctsec's clock): a renewal is overdue or failing.",
		Help:        "certbot renew (certbot certificates shows why it failed), then ctsec tls deploy again"},
}
