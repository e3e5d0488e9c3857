"""Scores, results.json and the HTML pages made from them."""
