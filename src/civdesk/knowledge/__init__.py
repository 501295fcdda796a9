"""Knowledge: canned answers and resolution codes; the knowledge base will grow from them."""
