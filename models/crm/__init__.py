"""The sales CRM (C1-C8, C10): customers and the five stages, ownership (claim, release,
shared), the stage rules, who may see what (visibility), contacts and contact records,
documents, sales and orders, lists, the query builder and finder, dashboards and reports, and
the recordings of customers' calls (a recording is part of the customer's file; telephony
decides when one is made).

May use: the base of models/ and models.org."""
