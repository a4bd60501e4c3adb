-- lineage_schema.sql: the PII-heavy fixture schema for the lineage corpus
-- (lineage_bypass.txt) and its real-server cross-check. Run it as the
-- database owner in a fresh database; statements are separated by lines
-- holding a single ";". Sample rows hold distinctive protected values so
-- that a leak of any of them (whole, reversed, hex, base64, re-cased,
-- separators removed, one character per row...) can be recognized.
CREATE SCHEMA billing
;
CREATE SCHEMA app
;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = "$user", public, billing', current_database()); END $$
;
CREATE TABLE customers (
  id int PRIMARY KEY,
  name text NOT NULL,
  email text,
  ssn text,
  phone text,
  card_number text,
  notes text,
  meta jsonb,
  created_at timestamptz NOT NULL DEFAULT '2020-02-02 00:00:00+00'
)
;
INSERT INTO customers (id, name, email, ssn, phone, card_number, notes, meta) VALUES
  (1, 'Alice Able', 'alice.qx7@example.com', '123-45-6789', '+1-555-0101', '4111111111111111', 'prefers calls zqnoteone', '{"card": "5500005555555559", "tier": "gold"}'),
  (2, 'Bob Baker', 'bob.kw3@example.org', '987-65-4321', '+1-555-0202', '4012888888881881', 'vip client zqnotetwo', '{"card": "378282246310005", "tier": "silver"}')
;
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10,2), status text, note text)
;
INSERT INTO orders VALUES (10, 1, 99.50, 'paid', 'gift wrap'), (11, 2, 12.00, 'open', NULL), (12, 1, 5.25, 'open', 'rush')
;
CREATE TABLE billing.accounts (id int PRIMARY KEY, customer_id int, iban text, balance numeric, holder text)
;
INSERT INTO billing.accounts VALUES (1, 1, 'DE89370400440532013000', 100, 'Alice Able'), (2, 2, 'GB29NWBK60161331926819', 250, 'Bob Baker')
;
-- Same table name in another schema: customers.email protects only
-- public.customers (first on the search_path); *.card_number reaches it.
CREATE TABLE billing.customers (id int, email text, card_number text, tier text)
;
INSERT INTO billing.customers VALUES (1, 'desk.billing@corp.invalid', '6011000990139424', 'gold')
;
CREATE TABLE "Contacts" (id int, "Email" text)
;
INSERT INTO "Contacts" VALUES (1, 'Carol.Quoted@Example.COM')
;
CREATE TABLE events (id int, customer_email text, kind text) PARTITION BY LIST (kind)
;
CREATE TABLE events_login PARTITION OF events FOR VALUES IN ('login')
;
INSERT INTO events VALUES (1, 'erin.partition@example.net', 'login')
;
CREATE VIEW customer_contacts AS SELECT id, name, lower(email) AS email_lc, phone FROM customers
;
CREATE VIEW vip_contacts AS SELECT id, name AS display_name, email_lc AS contact FROM customer_contacts WHERE id < 100
;
CREATE VIEW customer_json AS SELECT id, row_to_json(c) AS doc FROM customers c
;
CREATE MATERIALIZED VIEW customer_stats AS SELECT count(*) AS n, string_agg(ssn, ',' ORDER BY id) AS ssns, max(name) AS last_name FROM customers
;
CREATE VIEW order_summary AS SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id
;
CREATE VIEW sneaky AS SELECT query_to_xml('SELECT ssn FROM public.customers', true, false, '') AS x
;
CREATE FUNCTION app.customer_email(cid int) RETURNS text LANGUAGE sql STABLE AS $$SELECT email FROM public.customers WHERE id = cid$$
;
CREATE FUNCTION app.add_tax(amount numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$SELECT amount * 1.2$$
;
CREATE FUNCTION app.secret(cid int) RETURNS text LANGUAGE plpgsql STABLE AS $$BEGIN RETURN (SELECT ssn FROM public.customers WHERE id = cid); END$$
;
CREATE FUNCTION label(c customers) RETURNS text LANGUAGE sql STABLE AS $$SELECT c.name || ' <' || c.email || '>'$$
;
CREATE FUNCTION app.rows_of(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$BEGIN RETURN QUERY EXECUTE q; END$$

;
CREATE FUNCTION app.peek(a int, b int) RETURNS text LANGUAGE plpgsql STABLE AS $$BEGIN RETURN (SELECT ssn FROM public.customers WHERE id = a); END$$
;
CREATE OPERATOR public.<~> (LEFTARG = int, RIGHTARG = int, FUNCTION = app.peek)
;
CREATE TYPE app.leak AS (v text)
;
CREATE FUNCTION app.to_leak(int) RETURNS app.leak LANGUAGE plpgsql STABLE AS $$BEGIN RETURN ROW((SELECT email FROM public.customers WHERE id = $1)); END$$
;
CREATE CAST (int AS app.leak) WITH FUNCTION app.to_leak(int)
