-- Labor hours by employee, business date and day part; labor forecast.
CREATE TABLE labor.hours_daypart (
    store_id       text         NOT NULL,
    employee_id    text         NOT NULL,
    business_date  date         NOT NULL,
    daypart        text         NOT NULL,
    hours          numeric(9,4) NOT NULL CHECK (hours >= 0),
    employee_name  text,
    source_item    text,
    updated_at     timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, employee_id, business_date, daypart)
);
CREATE INDEX hours_daypart_date ON labor.hours_daypart (business_date);

CREATE TABLE labor.employees (
    store_id     text NOT NULL,
    employee_id  text NOT NULL,
    first_name   text,
    last_name    text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, employee_id)
);

-- One row per labor file received (store, business date): drives the missing-files report.
CREATE TABLE labor.files_received (
    store_id       text        NOT NULL,
    business_date  date        NOT NULL,
    file_name      text        NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, business_date)
);

CREATE TABLE labor.forecast_daypart (
    store_id              text          NOT NULL,
    business_date         date          NOT NULL,
    daypart               text          NOT NULL,
    hours_needed          numeric(9,2)  NOT NULL,
    forecast_sales        numeric(14,2),
    sales_per_labor_hour  numeric(10,2),
    generated_at          timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, business_date, daypart)
);
