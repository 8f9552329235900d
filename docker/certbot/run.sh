#!/bin/sh
# Let's Encrypt by webroot: replaces placeholders with real certificates, then renews twice a day.
# After a new certificate is deployed, a flag file asks nginx (docker/nginx/90-bw-reload-on-renewal.sh)
# to reload. Set CERTBOT_STAGING=1 to use Let's Encrypt's staging service (staging deployments).
set -u
: "${CERTBOT_DOMAINS:?space-separated host names}"
: "${CERTBOT_EMAIL:?contact address for Let's Encrypt}"
WEBROOT=/var/www/certbot
SIGNAL=/run/certbot-signal/reload-nginx
INTERVAL="${CERTBOT_RENEW_INTERVAL:-43200}"
STAGING=""
[ "${CERTBOT_STAGING:-0}" = "1" ] && STAGING="--staging"

issue() {
    domain="$1"
    live="/etc/letsencrypt/live/$domain"
    [ -f "$live/.placeholder" ] || return 0
    keep=$(mktemp -d)
    cp -a "$live/." "$keep/"
    rm -rf "$live"
    # shellcheck disable=SC2086
    if certbot certonly --webroot -w "$WEBROOT" --cert-name "$domain" -d "$domain" \
        --email "$CERTBOT_EMAIL" --agree-tos --no-eff-email --non-interactive $STAGING; then
        echo "certificate issued for $domain"
        touch "$SIGNAL"
    else
        echo "issuance for $domain failed; placeholder kept, retrying in 5 minutes" >&2
        rm -rf "$live"
        mkdir -p "$live"
        cp -a "$keep/." "$live/"
    fi
    rm -rf "$keep"
}

while :; do
    for domain in $CERTBOT_DOMAINS; do
        issue "$domain"
    done
    certbot renew --webroot -w "$WEBROOT" --non-interactive --deploy-hook "touch $SIGNAL" \
        || echo "certbot renew failed; retrying at the next run" >&2
    date +%s > /etc/letsencrypt/.certbot-heartbeat
    wait_for="$INTERVAL"
    for domain in $CERTBOT_DOMAINS; do
        [ -f "/etc/letsencrypt/live/$domain/.placeholder" ] && wait_for=300
    done
    sleep "$wait_for" &
    wait $!
done
