#!/bin/sh
# Self-signed placeholder certificates so nginx can start before Let's Encrypt has issued any.
# Runs once (service certbot-init) before nginx; a host that already has a certificate is left alone.
set -eu
: "${CERTBOT_DOMAINS:?space-separated host names}"
for domain in $CERTBOT_DOMAINS; do
    live="/etc/letsencrypt/live/$domain"
    if [ -s "$live/fullchain.pem" ] && [ -s "$live/privkey.pem" ]; then
        echo "certificate for $domain present"
        continue
    fi
    mkdir -p "$live"
    openssl req -x509 -nodes -newkey rsa:2048 -days 30 -subj "/CN=$domain" \
        -keyout "$live/privkey.pem" -out "$live/fullchain.pem" 2>/dev/null
    touch "$live/.placeholder"
    echo "placeholder certificate created for $domain"
done
