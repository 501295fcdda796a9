"""Files citizens and agents exchange: checked, stored by civdesk, shown to agents only."""
