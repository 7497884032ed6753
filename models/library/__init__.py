"""The sales library (C11): call scripts, products, competitors, resource sites and the
company's documents.

May use: the base of models/ and models.crm (the stage names of scripts)."""
