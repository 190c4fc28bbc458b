"""MD evaluation: force-field assignment for polymer-LiTFSI systems (HTP-MD protocol)."""
