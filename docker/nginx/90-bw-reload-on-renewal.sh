#!/bin/sh
# Started by the nginx image's entrypoint (/docker-entrypoint.d/): reloads nginx within a minute of
# certbot deploying a new certificate (certbot touches the flag file in the shared signal volume).
SIGNAL=/run/certbot-signal/reload-nginx
(
    while :; do
        sleep 60
        if [ -f "$SIGNAL" ]; then
            rm -f "$SIGNAL"
            if nginx -t -q; then
                nginx -s reload && echo "nginx reloaded: new certificates"
            else
                echo "nginx configuration test failed; not reloaded" >&2
            fi
        fi
    done
) &
