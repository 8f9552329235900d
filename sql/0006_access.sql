-- Users and their store grants (the seed's model), with a change log.
CREATE TABLE access.users (
    user_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text        NOT NULL,
    first_name  text,
    last_name   text,
    active      boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_ci ON access.users (lower(email));

CREATE TABLE access.user_store_access (
    user_id       bigint      NOT NULL REFERENCES access.users (user_id),
    store_id      text        NOT NULL REFERENCES core.stores (store_id),
    access_level  text        NOT NULL CHECK (access_level IN ('view', 'explore', 'admin')),
    granted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, store_id)
);

CREATE TABLE access.changes (
    change_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES access.users (user_id),
    store_id    text,
    change      text        NOT NULL,
    old_value   text,
    new_value   text,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
