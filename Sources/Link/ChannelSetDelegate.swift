import PortholeSystem

/// What a host's channel set asks its owner.
public protocol ChannelSetDelegate: AnyObject {
    /// The guest opens `channel`: set its delegate (connect to the
    /// compositor), or throw to refuse it (it is closed with code 3).
    func channelSet(_ set: ChannelSet, opens channel: LinkChannel) throws(ChannelError)
}
