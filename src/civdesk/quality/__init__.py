"""Quality: citizens' ratings now; QA scorecards and reviews will join them."""
