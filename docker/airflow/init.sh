#!/bin/bash
# One-shot job before the Airflow services start: migrate the metadata database and set the
# admin password (simple auth manager; the passwords file lives on the airflow-auth volume).
set -euo pipefail
airflow db migrate
python - <<'PY'
import json, os, pathlib
users = [u.split(":")[0] for u in os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin").split(",") if u]
password = pathlib.Path("/run/secrets/airflow_admin_password").read_text().strip()
if not password:
    raise SystemExit("secret airflow_admin_password is empty")
target = pathlib.Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
target.parent.mkdir(parents=True, exist_ok=True)
existing = json.loads(target.read_text() or "{}") if target.exists() else {}
existing.update({users[0]: password})
target.write_text(json.dumps(existing))
target.chmod(0o600)
print(f"password set for Airflow user {users[0]!r}")
PY
echo "airflow metadata database migrated"
