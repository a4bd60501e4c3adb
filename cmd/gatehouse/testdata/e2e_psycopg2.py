"""An agent written with psycopg2, run by TestE2EPsycopg2 against the gateway.

It connects with its token as the password (GH_HOST, GH_PORT, GH_TOKEN),
does what a read-only agent does and prints one JSON object of what it saw.
PGDATESTYLE in the environment makes libpq send a non-ISO DateStyle at
start-up, so psycopg2 sends its own SET DATESTYLE TO 'ISO' on connect.
"""
import json
import os
import sys

import psycopg2
import psycopg2.errors

out = {}
conn = psycopg2.connect(
    host=os.environ["GH_HOST"],
    port=os.environ["GH_PORT"],
    dbname="shop",
    user="py-agent",
    password=os.environ["GH_TOKEN"],
    sslmode="require",
    application_name="e2e-psycopg2",
    connect_timeout=30,
)
out["datestyle"] = conn.get_parameter_status("DateStyle")
out["ssl"] = conn.info.ssl_in_use
cur = conn.cursor()

# psycopg2 interpolates %s client-side and sends a simple query, inside
# the transaction it opens implicitly (BEGIN).
cur.execute("SELECT count(*) FROM orders WHERE status = %s AND customer_id = %s", ("paid", 8))
out["paid_for_8"] = cur.fetchone()[0]

cur.execute("SELECT created_at FROM orders WHERE id = %s", (1,))
out["created_at_type"] = type(cur.fetchone()[0]).__name__

try:
    cur.execute("DROP TABLE orders")
    out["drop"] = "ran"
except psycopg2.errors.InsufficientPrivilege as e:
    out["drop"] = {"pgcode": e.pgcode, "message": e.pgerror}
except psycopg2.Error as e:
    out["drop"] = {"unexpected": type(e).__name__, "pgcode": e.pgcode, "message": e.pgerror}
conn.rollback()

# A sqlcommenter comment carries the agent's reason and trace context; %%
# escapes the percent signs of the URL encoding from psycopg2's formatting.
cur.execute(
    "SELECT status FROM orders WHERE id = %s "
    "/* traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',reason='checking%%20refund%%20status' */",
    (7,),
)
out["status_7"] = cur.fetchone()[0]
conn.commit()

# A named (server-side) cursor, as data pipelines use to stream large
# results: DECLARE ... CURSOR, FETCH FORWARD n, CLOSE.
with conn.cursor(name="orders_stream") as named:
    named.itersize = 50
    named.execute("SELECT id FROM orders")
    out["streamed"] = sum(1 for _ in named)
conn.commit()
conn.close()
json.dump(out, sys.stdout)
